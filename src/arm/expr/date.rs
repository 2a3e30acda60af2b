//! Date functions. `utcNow()` is the deployment time, so it is Unknown.

use super::ast::ExprSpan;
use super::eval::{want_int, want_str, Dispatch, Evaluator, Fault};
use crate::value::Value;
use time::{Duration, OffsetDateTime};

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("datetimeadd", 2, 3),
    ("datetimefromepoch", 1, 1),
    ("datetimetoepoch", 1, 1),
    ("utcnow", 0, 1),
];

pub(super) fn call(
    _ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let out = match name {
        "utcnow" => Value::unknown("utcNow() is the time of the deployment"),
        "datetimefromepoch" => {
            let secs = want_int(&args, 0, f, span)?;
            let t = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| {
                Fault::invalid(span, format!("dateTimeFromEpoch(): {secs} is out of range"))
            })?;
            Value::String(iso(t))
        }
        "datetimetoepoch" => {
            Value::Int(parse_time(want_str(&args, 0, f, span)?, span)?.unix_timestamp())
        }
        "datetimeadd" => {
            let base = parse_time(want_str(&args, 0, f, span)?, span)?;
            let t = add_duration(base, want_str(&args, 1, f, span)?, span)?;
            match args.get(2) {
                Some(Value::String(fmt)) => Value::String(net_format(t, fmt)),
                _ => Value::String(iso(t)),
            }
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}

fn iso(t: OffsetDateTime) -> String {
    net_format(t, "yyyy-MM-ddTHH:mm:ssZ")
}

/// The .NET custom date format tokens templates use.
fn net_format(t: OffsetDateTime, fmt: &str) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let run = chars.iter().skip(i).take_while(|&&x| x == c).count();
        let piece = match (c, run) {
            ('y', 4) => format!("{:04}", t.year()),
            ('y', 2) => format!("{:02}", t.year() % 100),
            ('M', 2) => format!("{:02}", u8::from(t.month())),
            ('M', 1) => format!("{}", u8::from(t.month())),
            ('d', 2) => format!("{:02}", t.day()),
            ('d', 1) => format!("{}", t.day()),
            ('H', 2) => format!("{:02}", t.hour()),
            ('H', 1) => format!("{}", t.hour()),
            ('m', 2) => format!("{:02}", t.minute()),
            ('s', 2) => format!("{:02}", t.second()),
            _ => std::iter::repeat_n(c, run).collect(),
        };
        out.push_str(&piece);
        i += run;
    }
    out
}

fn parse_time(s: &str, span: ExprSpan) -> Result<OffsetDateTime, Fault> {
    use time::format_description::well_known::Rfc3339;
    let normal = s.trim().replace(' ', "T");
    if let Ok(t) = OffsetDateTime::parse(&normal, &Rfc3339) {
        return Ok(t);
    }
    // Compact form `yyyyMMddTHHmmssZ` (utcNow()'s default).
    let digits: String = normal.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 14 {
        let iso = format!(
            "{}-{}-{}T{}:{}:{}Z",
            &digits[0..4],
            &digits[4..6],
            &digits[6..8],
            &digits[8..10],
            &digits[10..12],
            &digits[12..14]
        );
        if let Ok(t) = OffsetDateTime::parse(&iso, &Rfc3339) {
            return Ok(t);
        }
    }
    let with_z = format!("{normal}Z");
    OffsetDateTime::parse(&with_z, &Rfc3339)
        .map_err(|_| Fault::invalid(span, format!("'{s}' is not an ISO 8601 date and time")))
}

/// Adds an ISO 8601 duration (`P1Y2M3DT4H5M6S`, `-P1D`, `PT1H`).
pub(super) fn add_duration(
    base: OffsetDateTime,
    d: &str,
    span: ExprSpan,
) -> Result<OffsetDateTime, Fault> {
    let bad = || Fault::invalid(span, format!("'{d}' is not an ISO 8601 duration"));
    let (neg, rest) = match d.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, d),
    };
    let rest = rest.strip_prefix('P').ok_or_else(bad)?;
    let (mut months, mut secs) = (0i64, 0i64);
    let mut in_time = false;
    let mut num = String::new();
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => num.push(c),
            unit => {
                let n: i64 = num.parse().map_err(|_| bad())?;
                num.clear();
                let (months_per, secs_per) = match (unit, in_time) {
                    ('Y', false) => (12, 0),
                    ('M', false) => (1, 0),
                    ('W', false) => (0, 7 * 86_400),
                    ('D', false) => (0, 86_400),
                    ('H', true) => (0, 3_600),
                    ('M', true) => (0, 60),
                    ('S', true) => (0, 1),
                    _ => return Err(bad()),
                };
                // Checked: a duration like P9999999999999Y must be an error, not an overflow.
                months = n
                    .checked_mul(months_per)
                    .and_then(|m| months.checked_add(m))
                    .ok_or_else(bad)?;
                secs = n
                    .checked_mul(secs_per)
                    .and_then(|x| secs.checked_add(x))
                    .ok_or_else(bad)?;
            }
        }
    }
    if !num.is_empty() {
        return Err(bad());
    }
    if neg {
        months = -months;
        secs = -secs;
    }
    let total = (i64::from(base.year()) * 12 + i64::from(base.month() as u8) - 1)
        .checked_add(months)
        .ok_or_else(bad)?;
    let year = i32::try_from(total.div_euclid(12)).map_err(|_| bad())?;
    let month = time::Month::try_from((total.rem_euclid(12) + 1) as u8).map_err(|_| bad())?;
    let last = month.length(year);
    let date =
        time::Date::from_calendar_date(year, month, base.day().min(last)).map_err(|_| bad())?;
    let moved = base.replace_date(date);
    moved.checked_add(Duration::seconds(secs)).ok_or_else(bad)
}
