//! `cargo bench --bench check`: a full `check` (tokens, vault, key, role
//! assignments, role definitions, Graph, rotation policy) against the loopback
//! fake with 100 ms added to every response, concurrent vs sequential.
//! Issue 5's target: concurrent under 400 ms where sequential takes at least 500 ms.

#[path = "../tests/check/fake.rs"]
mod fake;

use cmek_arm::azure::credentials::{AuthMode, Credential};
use cmek_arm::azure::endpoints::Cloud;
use cmek_arm::azure::http::new_http_client;
use cmek_arm::azure::reader::{Concurrency, Target};
use cmek_arm::check::{run_with, CheckOptions};
use fake::*;
use std::time::{Duration, Instant};

fn main() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.latency(Duration::from_millis(100));
    let opts = CheckOptions {
        target: Target {
            subscription: SUB.into(),
            resource_group: RG.into(),
            vault: Some(VAULT.into()),
            key: Some(KEY.into()),
            from_deployment: None,
            sp_object_id: Some(SP_OBJECT.into()),
            probe: false,
        },
        auth: AuthMode::Env,
        cloud: Cloud::Public,
        arm_endpoint: Some(fake.url.clone()),
        vault_endpoint: Some(fake.url.clone()),
        graph_endpoint: Some(fake.url.clone()),
        timeout: Duration::from_secs(10),
        deadline: None,
    };
    for (label, mode) in [
        ("concurrent", Concurrency::Parallel),
        ("sequential", Concurrency::Sequential),
    ] {
        let mut times = Vec::new();
        let settings = cmek_arm::rules::Settings::default();
        for _ in 0..7 {
            // A fresh credential each time: the token request is part of the cost.
            let cred = Credential::client_secret(
                new_http_client().expect("client"),
                &fake.url,
                TENANT,
                CLIENT,
                SECRET,
            )
            .expect("credential");
            let t = Instant::now();
            let state = run_with(&opts, cred, mode).expect("check");
            // The whole command: rules, levels and the report, not just the reads.
            let findings = cmek_arm::check::findings(&state, &settings);
            cmek_arm::report::write(
                &findings,
                &cmek_arm::check::sources(&state),
                cmek_arm::report::Format::Json,
                false,
                &mut std::io::sink(),
            )
            .expect("report");
            times.push(t.elapsed());
            assert_eq!(state.deployment.resources.len(), 4);
        }
        times.sort();
        println!(
            "check {label:<10}: median {:>4} ms  (min {} ms, max {} ms, 7 runs, 100 ms latency per response)",
            times[3].as_millis(),
            times[0].as_millis(),
            times[6].as_millis()
        );
    }
}
