//! CIDR functions: parseCidr, cidrSubnet, cidrHost (IPv4 and IPv6).

use super::ast::ExprSpan;
use super::eval::{want_int, want_str, Dispatch, Evaluator, Fault};
use crate::value::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("cidrhost", 2, 2),
    ("cidrsubnet", 3, 3),
    ("parsecidr", 1, 1),
];

struct Net {
    v6: bool,
    addr: u128,
    prefix: u32,
}

impl Net {
    fn bits(&self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }
    fn mask(&self) -> u128 {
        let host = self.bits() - self.prefix;
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }
    fn network(&self) -> u128 {
        self.addr & self.mask()
    }
    fn broadcast(&self) -> u128 {
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        self.network() | (all & !self.mask())
    }
    fn show(&self, a: u128) -> String {
        if self.v6 {
            Ipv6Addr::from(a).to_string()
        } else {
            Ipv4Addr::from(a as u32).to_string()
        }
    }
}

fn parse(s: &str, span: ExprSpan) -> Result<Net, Fault> {
    let bad = || Fault::invalid(span, format!("'{s}' is not a CIDR range"));
    let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
    let prefix: u32 = prefix.parse().map_err(|_| bad())?;
    let net = match ip.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(a) => Net {
            v6: false,
            addr: u128::from(u32::from(a)),
            prefix,
        },
        IpAddr::V6(a) => Net {
            v6: true,
            addr: u128::from(a),
            prefix,
        },
    };
    if prefix > net.bits() {
        return Err(bad());
    }
    Ok(net)
}

pub(super) fn call(
    _ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let out = match name {
        "parsecidr" => {
            let n = parse(want_str(&args, 0, f, span)?, span)?;
            let mut m = Map::new();
            let s = |x: String| Value::String(x);
            m.insert("network".into(), s(n.show(n.network())));
            m.insert("netmask".into(), s(n.show(n.mask())));
            if !n.v6 {
                m.insert("broadcast".into(), s(n.show(n.broadcast())));
            }
            let (first, last) = usable(&n);
            m.insert("firstUsable".into(), s(n.show(first)));
            m.insert("lastUsable".into(), s(n.show(last)));
            m.insert("cidr".into(), Value::Int(i64::from(n.prefix)));
            Value::Object(m)
        }
        "cidrsubnet" => {
            let n = parse(want_str(&args, 0, f, span)?, span)?;
            let new = want_int(&args, 1, f, span)?;
            let index = want_int(&args, 2, f, span)?;
            if new < i64::from(n.prefix) || new > i64::from(n.bits()) || index < 0 {
                return Err(Fault::invalid(
                    span,
                    format!(
                        "cidrSubnet(): /{new} subnet {index} does not fit in /{}",
                        n.prefix
                    ),
                ));
            }
            let new = new as u32;
            let count_bits = new - n.prefix;
            if count_bits < 127 && (index as u128) >= (1u128 << count_bits) {
                return Err(Fault::invalid(
                    span,
                    format!(
                        "cidrSubnet(): index {index} is beyond the {} subnets",
                        1u128 << count_bits
                    ),
                ));
            }
            let host_bits = n.bits() - new;
            let addr = n.network() | ((index as u128).checked_shl(host_bits).unwrap_or(0));
            Value::String(format!("{}/{new}", n.show(addr)))
        }
        "cidrhost" => {
            let n = parse(want_str(&args, 0, f, span)?, span)?;
            let index = want_int(&args, 1, f, span)?;
            // Host 0 is the first address after the network address, for IPv6 too.
            let last = usable(&n).1;
            let addr = n
                .network()
                .checked_add(1)
                .and_then(|first| first.checked_add(u128::try_from(index).ok()?));
            match addr {
                Some(a) if index >= 0 && a <= last => Value::String(n.show(a)),
                _ => {
                    return Err(Fault::invalid(
                        span,
                        format!("cidrHost(): host {index} is outside the range"),
                    ))
                }
            }
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}

/// First and last usable host addresses (Azure reserves none here; IPv4 skips network and broadcast).
fn usable(n: &Net) -> (u128, u128) {
    let (net, bc) = (n.network(), n.broadcast());
    if n.v6 {
        return (net, bc);
    }
    if n.prefix >= 31 {
        (net, bc)
    } else {
        (net + 1, bc - 1)
    }
}
