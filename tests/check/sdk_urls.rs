//! The generated clients (`azure_mgmt_keyvault`, `azure_mgmt_authorization`) are
//! the reference for URL shapes: the reader must request the same paths they do,
//! without their traps (different argument orders, `//` for a leading `/` in a
//! scope, a fixed preview api-version). Both are pointed at the fake and the paths
//! it records are compared with the reader's.

use super::cli::check;
use super::fake::*;
use azure_core::auth::TokenCredential;
use futures::StreamExt;
use std::sync::Arc;

fn query(seen: &Seen, name: &str) -> Option<String> {
    seen.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn reader_urls_match_the_generated_clients() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let endpoint = azure_core::Url::parse(&fake.url).unwrap();
    let cred: Arc<dyn TokenCredential> = Arc::new(azure_identity::ClientSecretCredential::new(
        azure_core::new_http_client(),
        endpoint.clone(),
        TENANT.into(),
        CLIENT.into(),
        SECRET.into(),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kv = azure_mgmt_keyvault::package_preview_2022_02::Client::builder(cred.clone())
            .endpoint(endpoint.clone())
            .retry(azure_core::RetryOptions::none())
            .build()
            .unwrap();
        // Note the argument orders: (rg, vault, sub) versus (sub, rg, vault, key).
        let _ = kv.vaults_client().get(RG, VAULT, SUB).send().await;
        let _ = kv.keys_client().get(SUB, RG, VAULT, KEY).send().await;
        let auth = azure_mgmt_authorization::package_2022_04_01::Client::builder(cred)
            .endpoint(endpoint)
            .retry(azure_core::RetryOptions::none())
            .build()
            .unwrap();
        let mut pages = auth
            .role_assignments_client()
            .list_for_scope(key_id())
            .filter("atScope()")
            .into_stream();
        let _ = pages.next().await;
    });
    let sdk: Vec<Seen> = fake
        .seen()
        .into_iter()
        .filter(|s| !s.path.contains("oauth2"))
        .collect();
    assert_eq!(sdk.len(), 3, "{sdk:?}");
    // The generated keyvault clients only speak a preview api-version.
    assert_eq!(
        query(&sdk[0], "api-version").as_deref(),
        Some("2022-02-01-preview")
    );
    assert_eq!(query(&sdk[2], "api-version").as_deref(), Some("2022-04-01"));
    // A scope with a leading '/' becomes '//' in the generated URL.
    assert!(
        sdk[2].path.starts_with("//subscriptions/"),
        "{}",
        sdk[2].path
    );

    let n = fake.seen().len();
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ours: Vec<Seen> = fake.seen().into_iter().skip(n).collect();
    let find = |suffix: &str| {
        ours.iter()
            .find(|s| s.path.to_ascii_lowercase().ends_with(suffix))
            .unwrap_or_else(|| panic!("no request ending {suffix}: {ours:?}"))
            .clone()
    };
    let vault = find(&format!("/vaults/{VAULT}"));
    let key = find(&format!("/keys/{KEY}"));
    let ra = find("/roleassignments");
    assert_eq!(vault.path, sdk[0].path);
    assert_eq!(key.path, sdk[1].path);
    assert_eq!(ra.path, sdk[2].path.replacen("//", "/", 1));
    assert_eq!(query(&ra, "$filter"), query(&sdk[2], "$filter"));
    assert_eq!(query(&vault, "api-version").as_deref(), Some("2025-05-01"));
}
