//! One token per customer tenant for the vendor's multi-tenant application.
//!
//! azure_identity 0.21's `ClientSecretCredential` and `WorkloadIdentityCredential`
//! are bound to one tenant, so a credential is built per tenant the keys live in.
//! Each tenant's token is requested once and reused for the run (renewed five
//! minutes before it expires); concurrent keys of one tenant wait for the same
//! request. A tenant whose token request is refused (the application is not
//! consented there, a wrong secret) keeps that answer for the run, so a thousand
//! keys in it make one token request, not a thousand.

use crate::error::Error;
use azure_core::auth::{Secret, TokenCredential};
use azure_core::HttpClient;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use url::Url;

/// How the vendor's application proves who it is, in every tenant alike.
#[derive(Clone)]
pub enum AppCredential {
    /// `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`.
    Secret {
        /// The application (client) ID.
        client_id: String,
        /// The client secret (never printed: `Secret`'s Debug hides it).
        secret: Secret,
    },
    /// `AZURE_CLIENT_ID` + `AZURE_FEDERATED_TOKEN_FILE` (workload identity, e.g. on AKS).
    /// The file is read again for every token, as the kubelet rotates it.
    FederatedFile {
        /// The application (client) ID.
        client_id: String,
        /// The projected service-account token.
        path: PathBuf,
    },
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppCredential::Secret { client_id, .. } => write!(f, "client secret of {client_id}"),
            AppCredential::FederatedFile { client_id, path } => {
                write!(f, "federated token of {client_id} from {}", path.display())
            }
        }
    }
}

/// Largest federated token file read (a service-account JWT is about 1 KiB).
const MAX_ASSERTION_BYTES: u64 = 64 << 10;

/// A token is renewed when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl AppCredential {
    /// From the environment (read through `var`): a client secret, else a
    /// federated token file; exit 2 naming the variables when neither is set.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let set = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let missing = || {
            Error::Usage(
                "--key-uri/--key-uris: the vendor's application needs AZURE_CLIENT_ID and \
                 AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE for workload identity); \
                 its tenant in each customer's directory is found from Key Vault, so \
                 AZURE_TENANT_ID is not needed"
                    .into(),
            )
        };
        let client_id = set("AZURE_CLIENT_ID").ok_or_else(missing)?;
        if let Some(secret) = var("AZURE_CLIENT_SECRET").filter(|v| !v.is_empty()) {
            return Ok(AppCredential::Secret {
                client_id: client_id.trim().to_string(),
                secret: Secret::new(secret),
            });
        }
        match set("AZURE_FEDERATED_TOKEN_FILE") {
            Some(path) => Ok(AppCredential::FederatedFile {
                client_id: client_id.trim().to_string(),
                path: PathBuf::from(path),
            }),
            None => Err(missing()),
        }
    }

    /// A credential in `tenant`, asking `authority`.
    fn build(
        &self,
        http: &Arc<dyn HttpClient>,
        authority: &Url,
        tenant: &str,
    ) -> Result<Arc<dyn TokenCredential>, String> {
        Ok(match self {
            AppCredential::Secret { client_id, secret } => {
                Arc::new(azure_identity::ClientSecretCredential::new(
                    http.clone(),
                    authority.clone(),
                    tenant.to_string(),
                    client_id.clone(),
                    secret.secret().to_string(),
                ))
            }
            AppCredential::FederatedFile { client_id, path } => {
                let mut assertion = String::new();
                std::fs::File::open(path)
                    .and_then(|f| f.take(MAX_ASSERTION_BYTES).read_to_string(&mut assertion))
                    .map_err(|e| {
                        format!(
                            "cannot read AZURE_FEDERATED_TOKEN_FILE {}: {e}",
                            path.display()
                        )
                    })?;
                Arc::new(azure_identity::WorkloadIdentityCredential::new(
                    http.clone(),
                    authority.clone(),
                    tenant.to_string(),
                    client_id.clone(),
                    assertion.trim().to_string(),
                ))
            }
        })
    }
}

/// A token, or the answer that refused it (kept for the run).
#[derive(Clone)]
enum Held {
    Token(Secret, OffsetDateTime),
    Refused(String),
}

/// Tokens for the Key Vault resource, one per tenant.
pub struct Tenants {
    http: Arc<dyn HttpClient>,
    authority: Url,
    scope: String,
    app: AppCredential,
    timeout: Duration,
    held: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Held>>>>>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("authority", &self.authority.as_str())
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl Tenants {
    /// Tokens for `scope` from `authority`, each request within `timeout`.
    pub fn new(
        http: Arc<dyn HttpClient>,
        authority: Url,
        scope: String,
        app: AppCredential,
        timeout: Duration,
    ) -> Self {
        Tenants {
            http,
            authority,
            scope,
            app,
            timeout,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The token for `tenant` (a GUID), or why there is none (never a secret).
    pub async fn token(&self, tenant: &str) -> Result<Secret, String> {
        let slot = {
            let mut map = self
                .held
                .lock()
                .map_err(|_| "the token cache is poisoned".to_string())?;
            map.entry(tenant.to_string()).or_default().clone()
        };
        // One request per tenant at a time; the others wait for its answer.
        let mut held = slot.lock().await;
        match &*held {
            Some(Held::Token(t, expires))
                if *expires - OffsetDateTime::now_utc() > RENEW_BEFORE =>
            {
                return Ok(t.clone())
            }
            Some(Held::Refused(why)) => return Err(why.clone()),
            _ => {}
        }
        let cred = self.app.build(&self.http, &self.authority, tenant)?;
        let scope = self.scope.as_str();
        match tokio::time::timeout(self.timeout, cred.get_token(&[scope])).await {
            Ok(Ok(t)) => {
                *held = Some(Held::Token(t.token.clone(), t.expires_on));
                Ok(t.token)
            }
            Ok(Err(e)) => {
                let why = format!(
                    "the token request in tenant {tenant} was refused: {}; the vendor's \
                     application must be consented (have a service principal) in that tenant",
                    super::super::credentials::error_chain(&e)
                );
                *held = Some(Held::Refused(why.clone()));
                Err(why)
            }
            // A slow token endpoint is not kept: the next key of the tenant asks again.
            Err(_) => Err(format!(
                "the token request in tenant {tenant} did not finish within {} s (--timeout)",
                self.timeout.as_secs_f64()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn secret_first_then_federated_file_else_a_usage_error() {
        let s = AppCredential::from_env(&env(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "very-secret"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
        ]))
        .unwrap();
        assert!(matches!(s, AppCredential::Secret { .. }));
        assert!(!format!("{s:?}").contains("very-secret"));
        let f = AppCredential::from_env(&env(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
        ]))
        .unwrap();
        assert!(matches!(f, AppCredential::FederatedFile { .. }));
        let e = AppCredential::from_env(&env(&[("AZURE_CLIENT_ID", "c")])).unwrap_err();
        assert!(e.to_string().contains("AZURE_CLIENT_SECRET"), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert!(AppCredential::from_env(&env(&[("AZURE_CLIENT_SECRET", "s")])).is_err());
    }
}
