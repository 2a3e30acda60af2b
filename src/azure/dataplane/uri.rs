//! Key URIs as a vendor holds them (`https://<vault>.vault.azure.net/keys/<name>[/<version>]`),
//! the lists they come in (`--key-uris FILE`), and `--shard I/N`.
//!
//! A URI decides where a bearer token goes, so it is held to the shape Key Vault
//! gives it: https to `<vault>.<the cloud's vault suffix>` on the default port,
//! or plain http to a loopback address (a local fake). Anything else is exit 2
//! naming the URI, before any request is sent.

use crate::azure::endpoints::{is_loopback, Cloud};
use crate::error::Error;
use crate::params::{KeyName, VaultName};
use std::io::Read;
use url::Url;

/// One key to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUri {
    /// The URI as findings and jsonl lines name it: `scheme://host[:port]/keys/<name>[/<version>]`,
    /// host in lower case, no trailing slash.
    pub uri: String,
    /// The vault's name (the host's first label), or `host:port` on loopback.
    pub vault: String,
    /// `host[:port]` in lower case: per-vault limits and the tenant found for a
    /// vault are keyed on it.
    pub host: String,
    /// Key name.
    pub key: String,
    /// Key version, when the URI names one.
    pub version: Option<String>,
    /// https (else http on loopback).
    pub https: bool,
}

impl KeyUri {
    /// The vault's data-plane base URL (`https://kv1.vault.azure.net/`). Built
    /// when needed rather than kept: a fleet's list holds every key at once.
    pub fn base(&self) -> Result<Url, Error> {
        let scheme = if self.https { "https" } else { "http" };
        Url::parse(&format!("{scheme}://{}/", self.host))
            .map_err(|e| Error::Internal(format!("vault URL of {}: {e}", self.uri)))
    }

    /// `<name>` or `<name>/<version>`: the path under `keys/` for reads and the probe.
    pub fn key_path(&self) -> String {
        match &self.version {
            Some(v) => format!("{}/{v}", self.key),
            None => self.key.clone(),
        }
    }
}

/// The Key Vault DNS suffixes of each cloud, for naming the right `--cloud`.
const VAULT_SUFFIXES: [(&str, &str); 3] = [
    ("vault.azure.net", "public"),
    ("vault.usgovcloudapi.net", "usgov"),
    ("vault.azure.cn", "china"),
];

/// Managed HSM's DNS suffixes (not supported yet).
const MANAGED_HSM_SUFFIXES: [&str; 3] = [
    "managedhsm.azure.net",
    "managedhsm.usgovcloudapi.net",
    "managedhsm.azure.cn",
];

/// Longest URI accepted (a vault name is at most 24 characters, a key name 127,
/// a version 32: real URIs are under 250).
pub const MAX_URI_LEN: usize = 2048;

/// Parses one key URI for `cloud` (whose vault suffix the host must carry);
/// the error is the rule it breaks.
pub fn parse(text: &str, cloud: Cloud) -> Result<KeyUri, String> {
    if text.len() > MAX_URI_LEN {
        return Err(format!("is longer than {MAX_URI_LEN} characters"));
    }
    let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let suffix = cloud_suffix(cloud);
    let (vault, host_port) =
        match url.scheme() {
            "https" => {
                if let Some(hsm) = MANAGED_HSM_SUFFIXES
                    .iter()
                    .find(|s| host.ends_with(&format!(".{s}")))
                {
                    return Err(format!(
                    "is a Managed HSM key ({hsm}), which check does not support yet: Managed HSM \
                     takes tokens for its own resource and grants access with its local RBAC roles"
                ));
                }
                if let Some((other, name)) = VAULT_SUFFIXES
                    .iter()
                    .find(|(s, _)| *s != suffix && host.ends_with(&format!(".{s}")))
                {
                    return Err(format!(
                    "is a Key Vault of the {name} cloud ({other}); run check with --cloud {name} \
                     for it (one cloud per run)"
                ));
                }
                let Some(vault) = host.strip_suffix(&format!(".{suffix}")) else {
                    return Err(format!(
                        "must be https://<vault>.{suffix}/keys/<name>[/<version>] (--cloud {})",
                        cloud_name(cloud)
                    ));
                };
                if url.port().is_some() {
                    return Err("must use Key Vault's default port (no ':port')".into());
                }
                VaultName::parse("vault", vault).map_err(|e| match e {
                    Error::InvalidInput { rule, .. } => {
                        format!("names the vault '{vault}': {rule}")
                    }
                    other => other.to_string(),
                })?;
                (vault.to_string(), host.clone())
            }
            "http" if is_loopback(&url) => {
                let hp = match url.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.clone(),
                };
                (hp.clone(), hp)
            }
            "http" => return Err(
                "plain http is allowed only for loopback addresses (127.0.0.1, ::1, localhost); \
                 use https"
                    .into(),
            ),
            other => return Err(format!("scheme '{other}' is not https")),
        };
    let segs: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let segs: &[&str] = match segs.as_slice() {
        [rest @ .., ""] => rest,
        all => all,
    };
    let (key, version) = match segs {
        [keys, key] if keys.eq_ignore_ascii_case("keys") => (*key, None),
        [keys, key, version] if keys.eq_ignore_ascii_case("keys") => (*key, Some(*version)),
        _ => return Err("must have the path /keys/<name> or /keys/<name>/<version>".into()),
    };
    KeyName::parse("key", key).map_err(|e| match e {
        Error::InvalidInput { rule, .. } => format!("names the key '{key}': {rule}"),
        other => other.to_string(),
    })?;
    if let Some(v) = version {
        if v.len() != 32 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "names the key version '{v}', which is not 32 hexadecimal digits"
            ));
        }
    }
    let scheme = url.scheme();
    let mut uri = format!("{scheme}://{host_port}/keys/{key}");
    if let Some(v) = version {
        uri.push('/');
        uri.push_str(v);
    }
    Ok(KeyUri {
        https: scheme == "https",
        uri,
        vault,
        host: host_port,
        key: key.to_string(),
        version: version.map(str::to_string),
    })
}

fn cloud_suffix(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public => "vault.azure.net",
        Cloud::UsGov => "vault.usgovcloudapi.net",
        Cloud::China => "vault.azure.cn",
    }
}

fn cloud_name(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public => "public",
        Cloud::UsGov => "usgov",
        Cloud::China => "china",
    }
}

/// Largest `--key-uris` file read: 100,000 URIs of 160 bytes. A larger fleet is
/// split into several lists (and runs, e.g. with `--shard`).
pub const MAX_LIST_BYTES: u64 = 16 << 20;

/// Most keys one run checks (also the bound on `--key-uri` repeats).
pub const MAX_KEYS: usize = 100_000;

/// Reads a `--key-uris` list (`-` for standard input), at most [`MAX_LIST_BYTES`];
/// [`list_lines`] gives its URIs.
pub fn read_list(path: &str) -> Result<String, Error> {
    let mut text = Vec::new();
    let read = if path == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_LIST_BYTES + 1)
            .read_to_end(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_LIST_BYTES + 1).read_to_end(&mut text))
    };
    let shown = if path == "-" { "standard input" } else { path };
    read.map_err(|e| Error::io(shown, &e))?;
    if text.len() as u64 > MAX_LIST_BYTES {
        return Err(Error::File {
            path: shown.into(),
            message: format!(
                "is larger than {} MiB (--key-uris' cap); split the list into several runs",
                MAX_LIST_BYTES >> 20
            ),
        });
    }
    String::from_utf8(text).map_err(|_| Error::File {
        path: shown.into(),
        message: "is not UTF-8 text".into(),
    })
}

/// The URIs of a list's text with their line numbers: one per line; `#` starts
/// a comment (no key URI holds one: fragments are refused).
pub fn list_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let uri = line.split('#').next().unwrap_or_default().trim();
        (!uri.is_empty()).then_some((i + 1, uri))
    })
}

/// `--shard I/N`: keep the keys whose URI hashes to `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index (a Kubernetes indexed Job's `JOB_COMPLETION_INDEX`).
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

/// Most shards a fleet can be split into.
pub const MAX_SHARDS: u64 = 65_536;

impl Shard {
    /// Parses `I/N` (0 <= I < N <= 65536).
    pub fn parse(text: &str) -> Result<Shard, Error> {
        let bad = |rule: &str| Error::InvalidInput {
            flag: "--shard".into(),
            value: text.into(),
            rule: rule.into(),
        };
        let rule = "must be I/N: shard I (counted from 0) of N, e.g. 0/4 ... 3/4";
        let (i, n) = text.trim().split_once('/').ok_or_else(|| bad(rule))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<u64>(), n.trim().parse::<u64>()) else {
            return Err(bad(rule));
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(bad("N must be 1-65536"));
        }
        if index >= count {
            return Err(bad("I counts from 0 and must be less than N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether `uri` belongs to this shard.
    pub fn keeps(&self, uri: &KeyUri) -> bool {
        shard_hash(&uri.uri) % self.count == self.index
    }
}

/// A hash of a key URI that is the same on every machine, build and version:
/// FNV-1a (64-bit) of the lower-case URI, then SplitMix64's finaliser so that
/// URIs differing only in their last characters spread over all shards.
pub fn shard_hash(uri: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uri.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_uris_of_each_cloud_and_loopback() {
        let k = parse(
            "https://KV-1.vault.azure.net/keys/cmek-tidb/0123456789abcdef0123456789ABCDEF/",
            Cloud::Public,
        )
        .unwrap();
        assert_eq!(
            k.uri,
            "https://kv-1.vault.azure.net/keys/cmek-tidb/0123456789abcdef0123456789ABCDEF"
        );
        assert_eq!(k.base().unwrap().as_str(), "https://kv-1.vault.azure.net/");
        assert_eq!(
            (k.vault.as_str(), k.host.as_str()),
            ("kv-1", "kv-1.vault.azure.net")
        );
        assert_eq!(k.key_path(), "cmek-tidb/0123456789abcdef0123456789ABCDEF");
        let g = parse("https://kv1.vault.usgovcloudapi.net/keys/k", Cloud::UsGov).unwrap();
        assert_eq!((g.key.as_str(), g.version.as_ref()), ("k", None));
        assert!(parse("https://kv1.vault.azure.cn/keys/k", Cloud::China).is_ok());
        let l = parse("http://127.0.0.1:8080/keys/k1", Cloud::Public).unwrap();
        assert_eq!(
            (l.vault.as_str(), l.host.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080")
        );
        assert_eq!(l.base().unwrap().as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let err = |s: &str| parse(s, Cloud::Public).unwrap_err();
        assert!(err("https://kv1.vault.usgovcloudapi.net/keys/k").contains("--cloud usgov"));
        assert!(err("https://hsm1.managedhsm.azure.net/keys/k").contains("Managed HSM"));
        assert!(err("http://kv1.vault.azure.net/keys/k").contains("loopback"));
        assert!(err("http://10.0.0.1/keys/k").contains("loopback"));
        assert!(err("https://evil.example.com/keys/k").contains("vault.azure.net"));
        assert!(err("https://a.kv1.vault.azure.net/keys/k").contains("vault 'a.kv1'"));
        assert!(err("https://kv1.vault.azure.net:8443/keys/k").contains("port"));
        assert!(err("https://kv1.vault.azure.net/secrets/k").contains("/keys/<name>"));
        assert!(err("https://kv1.vault.azure.net/keys/k/v1").contains("hexadecimal"));
        assert!(err("https://kv1.vault.azure.net/keys/k_1").contains("key 'k_1'"));
        assert!(err("https://kv1.vault.azure.net/keys/k?x=1").contains("query"));
        assert!(err("https://u:p@kv1.vault.azure.net/keys/k").contains("credentials"));
        assert!(err("kv1/keys/k").contains("not a URL"));
        assert!(err(&format!(
            "https://kv1.vault.azure.net/keys/{}",
            "a".repeat(3000)
        ))
        .contains("longer"));
    }

    #[test]
    fn lists_skip_blank_lines_and_comments() {
        let text = "# customers\nhttps://a.vault.azure.net/keys/k  # acme\n\n  https://b.vault.azure.net/keys/k\n";
        assert_eq!(
            list_lines(text).collect::<Vec<_>>(),
            vec![
                (2, "https://a.vault.azure.net/keys/k"),
                (4, "https://b.vault.azure.net/keys/k")
            ]
        );
    }

    #[test]
    fn shards_partition_every_list_exactly_and_evenly() {
        let keys: Vec<KeyUri> = (0..1000)
            .map(|i| {
                parse(
                    &format!("https://kv{}.vault.azure.net/keys/key-{i}", i % 37 + 100),
                    Cloud::Public,
                )
                .unwrap()
            })
            .collect();
        let shards: Vec<Shard> = (0..4)
            .map(|i| Shard::parse(&format!("{i}/4")).unwrap())
            .collect();
        for k in &keys {
            assert_eq!(shards.iter().filter(|s| s.keeps(k)).count(), 1, "{}", k.uri);
        }
        for s in &shards {
            let n = keys.iter().filter(|k| s.keeps(k)).count();
            assert!(
                (180..=320).contains(&n),
                "shard {} holds {n} of 1000",
                s.index
            );
        }
        // Fixed for every build and machine: lists split today split the same tomorrow.
        assert_eq!(
            shard_hash("https://kv1.vault.azure.net/keys/k"),
            shard_hash("HTTPS://KV1.vault.azure.net/keys/K")
        );
        // The value itself is part of the contract (computed independently of this code).
        assert_eq!(
            shard_hash("https://kv1.vault.azure.net/keys/k"),
            0xcac2_c1e5_c06b_c48b
        );
        for bad in ["4/4", "1", "a/b", "0/0", "-1/4", "0/70000"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
