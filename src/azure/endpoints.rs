//! Cloud presets (`--cloud`) and endpoint overrides (`--arm-endpoint`,
//! `--vault-endpoint`, `--graph-endpoint`).
//!
//! A bearer token is only ever sent over https, or over plain http to a
//! loopback address (a local fake): anything else could leak it.

use crate::error::Error;
use url::{Host, Url};

/// A national cloud whose hosts `check` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Azure public cloud.
    Public,
    /// Azure US Government.
    UsGov,
    /// Azure operated by 21Vianet (China).
    China,
}

impl std::str::FromStr for Cloud {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" => Ok(Cloud::Public),
            "usgov" | "azureusgovernment" => Ok(Cloud::UsGov),
            "china" | "azurechinacloud" => Ok(Cloud::China),
            _ => Err(Error::InvalidInput {
                flag: "--cloud".into(),
                value: s.into(),
                rule: "must be public, usgov or china".into(),
            }),
        }
    }
}

/// The hosts of one cloud.
struct Preset {
    arm: &'static str,
    login: &'static str,
    vault_suffix: &'static str,
    graph: &'static str,
}

impl Cloud {
    fn preset(self) -> Preset {
        match self {
            Cloud::Public => Preset {
                arm: "https://management.azure.com/",
                login: "https://login.microsoftonline.com/",
                vault_suffix: "vault.azure.net",
                graph: "https://graph.microsoft.com/",
            },
            Cloud::UsGov => Preset {
                arm: "https://management.usgovcloudapi.net/",
                login: "https://login.microsoftonline.us/",
                vault_suffix: "vault.usgovcloudapi.net",
                graph: "https://graph.microsoft.us/",
            },
            Cloud::China => Preset {
                arm: "https://management.chinacloudapi.cn/",
                login: "https://login.chinacloudapi.cn/",
                vault_suffix: "vault.azure.cn",
                graph: "https://microsoftgraph.chinacloudapi.cn/",
            },
        }
    }
}

/// Where each API lives, and which token audience (scope) each needs.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The cloud these endpoints belong to.
    pub cloud: Cloud,
    /// Azure Resource Manager base URL.
    pub arm: Url,
    /// Microsoft Entra login host (the authority) of the cloud.
    pub login: Url,
    /// Microsoft Graph base URL.
    pub graph: Url,
    /// DNS suffix of Key Vault data-plane hosts, e.g. `vault.azure.net`.
    pub vault_suffix: String,
    /// A fixed data-plane base URL (`--vault-endpoint`) used instead of the vault's own URI.
    pub vault_override: Option<Url>,
    /// Token scope for ARM.
    pub arm_scope: String,
    /// Token scope for the Key Vault data plane.
    pub vault_scope: String,
    /// Token scope for Microsoft Graph.
    pub graph_scope: String,
}

impl Endpoints {
    /// The preset of `cloud`, with any overrides applied. Each override must be
    /// https, or http on a loopback address.
    pub fn new(
        cloud: Cloud,
        arm: Option<&str>,
        vault: Option<&str>,
        graph: Option<&str>,
    ) -> Result<Self, Error> {
        let p = cloud.preset();
        let parse_preset =
            |s: &str| Url::parse(s).map_err(|e| Error::Internal(format!("cloud preset {s}: {e}")));
        let arm_default = parse_preset(p.arm)?;
        let graph_default = parse_preset(p.graph)?;
        // Scopes name the cloud's audience, not the override's host: a token for a
        // local fake is still a token "for ARM".
        let arm_scope = format!("{}.default", arm_default);
        let graph_scope = format!("{}.default", graph_default);
        let vault_scope = format!("https://{}/.default", p.vault_suffix);
        Ok(Endpoints {
            cloud,
            arm: match arm {
                Some(s) => checked_url("--arm-endpoint", s)?,
                None => arm_default,
            },
            login: parse_preset(p.login)?,
            graph: match graph {
                Some(s) => checked_url("--graph-endpoint", s)?,
                None => graph_default,
            },
            vault_suffix: p.vault_suffix.to_string(),
            vault_override: vault
                .map(|s| checked_url("--vault-endpoint", s))
                .transpose()?,
            arm_scope,
            vault_scope,
            graph_scope,
        })
    }

    /// The data-plane base URL of `vault`: the override, else the `vaultUri` Azure
    /// reported (if it is a host of this cloud), else `https://<vault>.<suffix>/`.
    pub fn vault_base(&self, vault: &str, reported_uri: Option<&str>) -> Result<Url, Error> {
        if let Some(url) = &self.vault_override {
            return Ok(url.clone());
        }
        if let Some(uri) = reported_uri {
            if let Ok(url) = Url::parse(uri) {
                let host_ok = url.host_str().is_some_and(|h| {
                    h.to_ascii_lowercase()
                        .ends_with(&format!(".{}", self.vault_suffix))
                });
                // Never send a vault token to a host outside this cloud's vault domain.
                if url.scheme() == "https" && host_ok {
                    return Ok(url);
                }
            }
        }
        let s = format!(
            "https://{}.{}/",
            vault.to_ascii_lowercase(),
            self.vault_suffix
        );
        Url::parse(&s).map_err(|e| Error::InvalidInput {
            flag: "--vault".into(),
            value: vault.into(),
            rule: format!("does not form a valid vault URL: {e}"),
        })
    }
}

/// True when `url`'s host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Parses an endpoint given by `flag` (or environment variable), allowing plain
/// http only for loopback hosts.
pub fn checked_url(flag: &str, value: &str) -> Result<Url, Error> {
    let bad = |rule: String| Error::InvalidInput {
        flag: flag.into(),
        value: value.into(),
        rule,
    };
    let mut url = Url::parse(value).map_err(|e| bad(format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "plain http is allowed only for loopback addresses (127.0.0.1, ::1, localhost); use https"
                    .into(),
            ))
        }
        other => return Err(bad(format!("scheme '{other}' is not http(s)"))),
    }
    if url.host().is_none() {
        return Err(bad("has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials".into()));
    }
    // Paths are joined onto the base, so the base must end with '/'.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_only_on_loopback() {
        assert!(checked_url("--arm-endpoint", "http://127.0.0.1:8080").is_ok());
        assert!(checked_url("--arm-endpoint", "http://[::1]:8080/").is_ok());
        assert!(checked_url("--arm-endpoint", "http://localhost:1/").is_ok());
        let err = checked_url("--arm-endpoint", "http://10.0.0.1/").unwrap_err();
        assert!(err.to_string().contains("--arm-endpoint"), "{err}");
        assert!(checked_url("--arm-endpoint", "http://169.254.169.254/").is_err());
        assert!(checked_url("--arm-endpoint", "ftp://127.0.0.1/").is_err());
        assert!(checked_url("--arm-endpoint", "https://user:pw@example.com/").is_err());
        assert_eq!(
            checked_url("--x", "https://example.com/base")
                .unwrap()
                .as_str(),
            "https://example.com/base/"
        );
    }

    #[test]
    fn presets_and_vault_base() {
        let e = Endpoints::new(Cloud::UsGov, None, None, None).unwrap();
        assert_eq!(e.arm.as_str(), "https://management.usgovcloudapi.net/");
        assert_eq!(e.arm_scope, "https://management.usgovcloudapi.net/.default");
        assert_eq!(e.vault_scope, "https://vault.usgovcloudapi.net/.default");
        assert_eq!(
            e.vault_base("KV1", None).unwrap().as_str(),
            "https://kv1.vault.usgovcloudapi.net/"
        );
        // A vaultUri outside the cloud's vault domain is not trusted with a token.
        assert_eq!(
            e.vault_base("kv1", Some("https://evil.example.com/"))
                .unwrap()
                .as_str(),
            "https://kv1.vault.usgovcloudapi.net/"
        );
        let c = Endpoints::new(Cloud::China, None, None, None).unwrap();
        assert_eq!(c.graph.as_str(), "https://microsoftgraph.chinacloudapi.cn/");
        assert_eq!(
            c.vault_base("kv", Some("https://kv.vault.azure.cn:443/"))
                .unwrap()
                .as_str(),
            "https://kv.vault.azure.cn/"
        );
        assert!("mars".parse::<Cloud>().is_err());
    }
}
