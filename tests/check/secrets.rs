//! Tokens and secrets never appear in output, errors or Debug prints. (Every
//! run in these tests is also grepped by `cli::run_raw`.)

use super::cli::{check, run_raw, target_args};
use super::fake::*;

#[test]
fn token_and_secret_never_printed_on_any_path() {
    let Some(dir) = corpus() else { return };
    let outcomes = [
        Canned::error(401, "InvalidAuthenticationToken"),
        Canned::error(403, "AuthorizationFailed"),
        Canned::garbage(),
        Canned::error(400, "BadRequest"),
    ];
    for c in outcomes {
        let fake = compliant(&dir);
        fake.route(&vault_id(), vec![c]);
        let out = check(&fake, &["--probe"]);
        assert_ne!(out.code, 0);
        assert!(!out.stderr.is_empty());
    }
    // Token refused: the credential's own error text is printed, without the secret.
    let fake = compliant(&dir);
    let out = run_raw(
        &fake,
        &target_args(&fake.url, &[]),
        Some(&format!("{}other/", fake.url)),
    );
    assert_eq!(out.code, 3);
    // A successful probe prints neither.
    let out = check(&compliant(&dir), &["--probe"]);
    assert_eq!(out.code, 0);
}

#[test]
fn debug_of_reader_and_credential_is_redacted() {
    use cmek_arm::azure::credentials::Credential;
    use cmek_arm::azure::endpoints::{Cloud, Endpoints};
    use cmek_arm::azure::http::{new_http_client, HttpReader, RetryPolicy};
    let http = new_http_client().unwrap();
    let cred =
        Credential::client_secret(http.clone(), "http://127.0.0.1:9/", TENANT, CLIENT, SECRET)
            .unwrap();
    let ep = Endpoints::new(Cloud::Public, None, None, None).unwrap();
    let reader = HttpReader::new(
        http,
        cred.clone(),
        ep,
        std::time::Duration::from_secs(1),
        RetryPolicy::default(),
    );
    for s in [format!("{cred:?}"), format!("{reader:?}")] {
        assert!(!s.contains(SECRET) && !s.contains(TOKEN), "{s}");
    }
}
