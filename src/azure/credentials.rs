//! `--auth default|env|cli|managed-identity`: which azure_identity credential
//! gets the tokens.
//!
//! `default` is a chain that *chooses once* from what is configured: the
//! environment credential when its variables are set, else the Azure CLI when
//! `az` is on the PATH, else managed identity. It never falls through after a
//! failure, because falling through to managed identity would contact the
//! instance-metadata address (169.254.169.254) on every machine where the
//! environment credential is merely wrong.

use super::endpoints::{checked_url, Endpoints};
use super::Api;
use crate::error::Error;
use azure_core::auth::{AccessToken, TokenCredential};
use azure_core::HttpClient;
use azure_identity::{
    AppServiceManagedIdentityCredential, AzureCliCredential, EnvironmentCredential,
    TokenCredentialOptions, VirtualMachineManagedIdentityCredential,
};
use std::fmt;
use std::sync::Arc;

/// The `--auth` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Environment, then Azure CLI, then managed identity (chosen once, see module doc).
    Default,
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (or a federated token file).
    Env,
    /// `az account get-access-token`.
    Cli,
    /// The managed identity of the VM / App Service / container.
    ManagedIdentity,
}

impl std::str::FromStr for AuthMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(AuthMode::Default),
            "env" | "environment" => Ok(AuthMode::Env),
            "cli" | "azure-cli" => Ok(AuthMode::Cli),
            "managed-identity" | "msi" => Ok(AuthMode::ManagedIdentity),
            _ => Err(Error::InvalidInput {
                flag: "--auth".into(),
                value: s.into(),
                rule: "must be default, env, cli or managed-identity".into(),
            }),
        }
    }
}

/// The concrete source `--auth` resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The environment credential.
    Env,
    /// The Azure CLI.
    Cli,
    /// App Service / Functions / Container Apps managed identity (`IDENTITY_ENDPOINT`).
    AppServiceIdentity,
    /// VM managed identity (instance metadata service).
    VmIdentity,
}

/// Resolves `mode` to one source, reading the environment through `var` and
/// the PATH through `has_az`, so the choice is testable without side effects.
pub fn choose(
    mode: AuthMode,
    var: &dyn Fn(&str) -> Option<String>,
    has_az: &dyn Fn() -> bool,
) -> Source {
    let set = |k: &str| var(k).is_some_and(|v| !v.trim().is_empty());
    let managed = || {
        if set("IDENTITY_ENDPOINT") {
            Source::AppServiceIdentity
        } else {
            Source::VmIdentity
        }
    };
    match mode {
        AuthMode::Env => Source::Env,
        AuthMode::Cli => Source::Cli,
        AuthMode::ManagedIdentity => managed(),
        AuthMode::Default => {
            let env_ready = set("AZURE_TENANT_ID")
                && set("AZURE_CLIENT_ID")
                && (set("AZURE_CLIENT_SECRET") || set("AZURE_FEDERATED_TOKEN_FILE"));
            if env_ready {
                Source::Env
            } else if has_az() {
                Source::Cli
            } else {
                managed()
            }
        }
    }
}

/// True when an `az` executable is on the PATH.
pub fn az_on_path() -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        ["az", "az.cmd", "az.exe"]
            .iter()
            .any(|name| dir.join(name).is_file())
    })
}

/// A token source. Its `Debug` names only the kind: it never prints secrets.
///
/// It holds one credential instance per API because azure_identity's token cache
/// holds its lock while a token is fetched, which would serialise the ARM, Graph
/// and data-plane token requests that `check` makes concurrently.
#[derive(Clone)]
pub struct Credential {
    per_api: Vec<Arc<dyn TokenCredential>>,
    source: Source,
}

/// One instance per [`Api`], in `Api` order.
fn per_api(
    mut make: impl FnMut() -> Result<Arc<dyn TokenCredential>, Error>,
) -> Result<Vec<Arc<dyn TokenCredential>>, Error> {
    (0..3).map(|_| make()).collect()
}

fn index(api: Api) -> usize {
    match api {
        Api::Arm => 0,
        Api::Vault => 1,
        Api::Graph => 2,
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({:?})", self.source)
    }
}

impl Credential {
    /// Builds the credential `mode` selects from the process environment.
    ///
    /// The authority host is `AZURE_AUTHORITY_HOST` when set (https, or http on
    /// loopback only), else the cloud's login host.
    pub fn from_mode(
        mode: AuthMode,
        endpoints: &Endpoints,
        http: Arc<dyn HttpClient>,
    ) -> Result<Self, Error> {
        let var = |k: &str| std::env::var(k).ok();
        let source = choose(mode, &var, &az_on_path);
        let mut options = TokenCredentialOptions::from(http);
        let authority = match var("AZURE_AUTHORITY_HOST").filter(|s| !s.trim().is_empty()) {
            Some(host) => checked_url("AZURE_AUTHORITY_HOST", host.trim())?,
            None => endpoints.login.clone(),
        };
        options.set_authority_host(authority.to_string());
        let per_api = per_api(|| {
            let options = options.clone();
            Ok(match source {
                Source::Env => Arc::new(EnvironmentCredential::create(options).map_err(|e| {
                    Error::Azure(format!(
                        "--auth env: {e}; set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
                         AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE)"
                    ))
                })?) as Arc<dyn TokenCredential>,
                Source::Cli => Arc::new(AzureCliCredential::new()),
                Source::AppServiceIdentity => Arc::new(
                    AppServiceManagedIdentityCredential::create(options)
                        .map_err(|e| Error::Azure(format!("--auth managed-identity: {e}")))?,
                ),
                Source::VmIdentity => {
                    Arc::new(VirtualMachineManagedIdentityCredential::new(options))
                }
            })
        })?;
        Ok(Credential { per_api, source })
    }

    /// A client-secret credential against an explicit authority (tests, benchmarks,
    /// and callers that hold the secret themselves).
    pub fn client_secret(
        http: Arc<dyn HttpClient>,
        authority: &str,
        tenant_id: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, Error> {
        let authority = checked_url("authority host", authority)?;
        let per_api = per_api(|| {
            Ok(Arc::new(azure_identity::ClientSecretCredential::new(
                http.clone(),
                authority.clone(),
                tenant_id.to_string(),
                client_id.to_string(),
                client_secret.to_string(),
            )))
        })?;
        Ok(Credential {
            per_api,
            source: Source::Env,
        })
    }

    /// Which source this is.
    pub fn source(&self) -> Source {
        self.source
    }

    /// A token for `scope` of `api`; the error text is the credential's (never a secret).
    pub(crate) async fn token(&self, api: Api, scope: &str) -> Result<AccessToken, String> {
        let cred = self
            .per_api
            .get(index(api))
            .ok_or_else(|| "no credential for this API".to_string())?;
        cred.get_token(&[scope]).await.map_err(|e| error_chain(&e))
    }
}

/// An error and its sources on one line.
/// An error and its sources, as one line of text; escaped and bounded as a
/// server's words (a token endpoint's error body is part of it).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = inner.source();
    }
    // Longer than a quoted answer: the error codes and descriptions of Entra ID
    // (AADSTS...) run to a few hundred characters.
    super::server_text_within(&s, 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_are_escaped_and_bounded() {
        let e = std::io::Error::other(format!("AADSTS7000215: bad\u{1b}[2J{}", "x".repeat(5000)));
        let s = error_chain(&e);
        assert!(s.starts_with("AADSTS7000215: bad\\u{1b}[2J"), "{s}");
        assert!(s.chars().count() <= 1001, "{}", s.len());
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn default_chain_picks_env_first_then_cli_then_identity() {
        let full = env(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        assert_eq!(choose(AuthMode::Default, &full, &|| true), Source::Env);
        let partial = env(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")]);
        assert_eq!(choose(AuthMode::Default, &partial, &|| true), Source::Cli);
        assert_eq!(
            choose(AuthMode::Default, &partial, &|| false),
            Source::VmIdentity
        );
        let app = env(&[("IDENTITY_ENDPOINT", "http://127.0.0.1:1/")]);
        assert_eq!(
            choose(AuthMode::Default, &app, &|| false),
            Source::AppServiceIdentity
        );
        // An explicit mode is never second-guessed.
        assert_eq!(choose(AuthMode::Env, &env(&[]), &|| true), Source::Env);
        assert_eq!(choose(AuthMode::Cli, &full, &|| false), Source::Cli);
        assert!("bogus".parse::<AuthMode>().is_err());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let c = Credential::client_secret(
            azure_core::new_http_client(),
            "http://127.0.0.1:9/",
            "tenant",
            "client",
            "very-secret-value",
        )
        .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(Credential::client_secret(
            azure_core::new_http_client(),
            "http://10.1.2.3/",
            "t",
            "c",
            "s"
        )
        .is_err());
    }
}
