//! Tenant discovery: Key Vault answers a request without a token with 401 and
//! `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="<vault resource>"`.
//!
//! Only the tenant is taken from it, and only when the challenge is one Key Vault
//! of the configured cloud would send: its authority's host is the configured
//! authority host (`AZURE_AUTHORITY_HOST`, else the cloud's login host, with the
//! aliases Entra ID answers on for that cloud — Key Vault itself names
//! `login.windows.net` in the public cloud), and its resource is the cloud's Key
//! Vault resource. The token is then requested from the configured authority,
//! never from the host the challenge names.

use crate::azure::endpoints::Cloud;
use url::Url;

/// Longest `WWW-Authenticate` value read (Key Vault's is about 130 bytes).
pub const MAX_CHALLENGE_LEN: usize = 4096;

/// The login hosts of one Entra ID cloud (all answer for the same tenants).
fn aliases(cloud: Cloud) -> &'static [&'static str] {
    match cloud {
        Cloud::Public => &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
        Cloud::UsGov => &["login.microsoftonline.us", "login.usgovcloudapi.net"],
        Cloud::China => &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
    }
}

/// Which authorities a challenge may name.
#[derive(Debug, Clone)]
pub struct AuthorityPolicy {
    /// Where tokens are requested.
    configured: Url,
    /// `https` hosts accepted: the cloud's aliases when the configured host is one of them.
    hosts: Vec<String>,
}

impl AuthorityPolicy {
    /// The policy for the authority `configured` in `cloud`.
    pub fn new(configured: &Url, cloud: Cloud) -> Self {
        let host = configured
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let known = aliases(cloud);
        let hosts = if configured.scheme() == "https"
            && configured.port().is_none()
            && known.contains(&host.as_str())
        {
            known.iter().map(|h| (*h).to_string()).collect()
        } else {
            Vec::new()
        };
        AuthorityPolicy {
            configured: configured.clone(),
            hosts,
        }
    }

    /// Whether `url` is on the configured authority (or one of its aliases).
    fn accepts(&self, url: &Url) -> bool {
        if url.origin() == self.configured.origin() {
            return true;
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        url.scheme() == "https" && url.port().is_none() && self.hosts.contains(&host)
    }

    /// The accepted hosts, for messages.
    pub fn describe(&self) -> String {
        let own = self.configured.origin().ascii_serialization();
        if self.hosts.is_empty() {
            own
        } else {
            format!("{own} (or its aliases {})", self.hosts.join(", "))
        }
    }
}

/// The parameters of the `Bearer` challenge in a `WWW-Authenticate` value, keys
/// in lower case; `None` when there is no Bearer challenge.
pub fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let mut rest = header.trim_start();
    // Skip challenges of other schemes (`PoP ..., Bearer ...`).
    loop {
        let (scheme, after) = split_token(rest);
        if scheme.is_empty() {
            return None;
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            rest = after;
            break;
        }
        // Skip this challenge's parameters up to the next scheme.
        let mut r = after;
        loop {
            let (name, a) = split_token(r.trim_start_matches([' ', ',']));
            if name.is_empty() {
                return None;
            }
            match a.trim_start().strip_prefix('=') {
                Some(v) => r = skip_value(v.trim_start()).0,
                None => break,
            }
        }
        rest = r.trim_start_matches([' ', ',']);
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let (name, after) = split_token(rest);
        if name.is_empty() {
            break;
        }
        let Some(v) = after.trim_start().strip_prefix('=') else {
            // The next challenge's scheme.
            break;
        };
        let (r, value) = skip_value(v.trim_start());
        params.push((name.to_ascii_lowercase(), value));
        rest = r;
    }
    Some(params)
}

/// A token (`[A-Za-z0-9_.-]+`, as auth-param names and schemes are) and the rest.
fn split_token(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-!#$%&'*+^`|~".contains(c)))
        .unwrap_or(s.len());
    (
        s.get(..end).unwrap_or_default(),
        s.get(end..).unwrap_or_default(),
    )
}

/// A quoted string (with `\` escapes) or a token; the rest and the value.
fn skip_value(s: &str) -> (&str, String) {
    if let Some(body) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                value.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return (body.get(i + 1..).unwrap_or_default(), value);
            } else {
                value.push(c);
            }
        }
        ("", value)
    } else {
        let end = s.find([',', ' ']).unwrap_or(s.len());
        (
            s.get(end..).unwrap_or_default(),
            s.get(..end).unwrap_or_default().to_string(),
        )
    }
}

/// The tenant Key Vault's challenge names, or why it is not taken (`header` is
/// the `WWW-Authenticate` value, `vault_resource` the cloud's Key Vault resource,
/// e.g. `https://vault.azure.net`).
pub fn tenant(
    header: Option<&str>,
    policy: &AuthorityPolicy,
    vault_resource: &str,
) -> Result<String, String> {
    let Some(header) = header else {
        return Err("answered 401 without a WWW-Authenticate challenge".into());
    };
    if header.len() > MAX_CHALLENGE_LEN {
        return Err(format!(
            "answered with a WWW-Authenticate challenge longer than {MAX_CHALLENGE_LEN} bytes"
        ));
    }
    let Some(params) = bearer_params(header) else {
        return Err("answered 401 without a Bearer challenge".into());
    };
    let get = |names: &[&str]| {
        params
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    };
    let Some(authority) = get(&["authorization", "authorization_uri"]) else {
        return Err("answered with a Bearer challenge that names no authority".into());
    };
    let url = Url::parse(authority)
        .map_err(|_| format!("named the authority '{authority}', which is not a URL"))?;
    if !policy.accepts(&url) {
        return Err(format!(
            "named the authority '{authority}', whose host is not the configured authority \
             host {}",
            policy.describe()
        ));
    }
    let want = vault_resource.trim_end_matches('/');
    let resource_ok = match (get(&["resource"]), get(&["scope"])) {
        (Some(r), _) => r.trim_end_matches('/').eq_ignore_ascii_case(want),
        (None, Some(s)) => s
            .strip_suffix("/.default")
            .is_some_and(|r| r.trim_end_matches('/').eq_ignore_ascii_case(want)),
        (None, None) => false,
    };
    if !resource_ok {
        let named = get(&["resource", "scope"]).unwrap_or("no resource");
        return Err(format!(
            "named the resource '{named}', not this cloud's Key Vault resource {want}"
        ));
    }
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.next())
        .unwrap_or_default();
    match uuid::Uuid::try_parse(tenant) {
        Ok(t) if tenant.len() == 36 => Ok(t.hyphenated().to_string()),
        _ => Err(format!(
            "named the authority '{authority}', whose path is not a tenant ID (GUID)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KV: &str = "https://vault.azure.net";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn public() -> AuthorityPolicy {
        AuthorityPolicy::new(
            &Url::parse("https://login.microsoftonline.com/").unwrap(),
            Cloud::Public,
        )
    }

    #[test]
    fn key_vaults_own_challenge_names_the_tenant() {
        // As Key Vault sends it (login.windows.net is an alias of the public authority).
        let h = format!(
            r#"Bearer authorization="https://login.windows.net/{TENANT}", resource="https://vault.azure.net""#
        );
        assert_eq!(tenant(Some(&h), &public(), KV).unwrap(), TENANT);
        let h = format!(
            r#"PoP nonce="x", Bearer authorization_uri="https://login.microsoftonline.com/{}/", scope="https://vault.azure.net/.default""#,
            TENANT.to_uppercase()
        );
        assert_eq!(tenant(Some(&h), &public(), KV).unwrap(), TENANT);
    }

    #[test]
    fn foreign_authorities_resources_and_shapes_are_refused() {
        let p = public();
        let with = |auth: &str, res: &str| {
            tenant(
                Some(&format!(
                    r#"Bearer authorization="{auth}", resource="{res}""#
                )),
                &p,
                KV,
            )
        };
        let evil = with(&format!("https://login.evil.example/{TENANT}"), KV).unwrap_err();
        assert!(evil.contains("not the configured authority host"), "{evil}");
        assert!(with(&format!("http://login.windows.net/{TENANT}"), KV).is_err());
        assert!(with(&format!("https://login.windows.net:8443/{TENANT}"), KV).is_err());
        // Another cloud's authority or resource.
        assert!(with(&format!("https://login.microsoftonline.us/{TENANT}"), KV).is_err());
        let res = with(
            &format!("https://login.windows.net/{TENANT}"),
            "https://vault.azure.cn",
        )
        .unwrap_err();
        assert!(res.contains("not this cloud's Key Vault resource"), "{res}");
        assert!(with("https://login.windows.net/contoso.com", KV)
            .unwrap_err()
            .contains("GUID"));
        assert!(tenant(None, &p, KV).is_err());
        assert!(tenant(Some("Basic realm=\"x\""), &p, KV).is_err());
        assert!(tenant(Some(&"x".repeat(5000)), &p, KV).is_err());
    }

    #[test]
    fn an_explicit_authority_host_is_the_only_one_accepted() {
        let fake = AuthorityPolicy::new(
            &Url::parse("http://127.0.0.1:4000/").unwrap(),
            Cloud::Public,
        );
        let ok =
            format!(r#"Bearer authorization="http://127.0.0.1:4000/{TENANT}", resource="{KV}""#);
        assert_eq!(tenant(Some(&ok), &fake, KV).unwrap(), TENANT);
        let alias = format!(
            r#"Bearer authorization="https://login.windows.net/{TENANT}", resource="{KV}""#
        );
        assert!(tenant(Some(&alias), &fake, KV).is_err());
        let port =
            format!(r#"Bearer authorization="http://127.0.0.1:4001/{TENANT}", resource="{KV}""#);
        assert!(tenant(Some(&port), &fake, KV).is_err());
    }

    #[test]
    fn challenge_parameters_parse_quoted_and_bare_values() {
        assert_eq!(
            bearer_params(r#"Bearer a="x, \"y\"", b=tok , c="""#),
            Some(vec![
                ("a".into(), "x, \"y\"".into()),
                ("b".into(), "tok".into()),
                ("c".into(), String::new())
            ])
        );
        assert_eq!(bearer_params("Basic realm=\"r\""), None);
        assert_eq!(bearer_params(""), None);
    }
}
