//! The behavior selector of a threshold's name, in the syntax k6 users know from tagged
//! thresholds: `presence_ack{behavior:browser}`. `presence_ack{behavior=browser}`, the way
//! Prometheus writes a label, is read the same, since people coming from Grafana write that.

/// The tag a threshold can select on: the only dimension latencies are kept by.
pub(crate) const TAG: &str = "behavior";

/// Splits `name{behavior:NAME}` into the name and the behavior; a name without braces has
/// none. The error says what was expected and what was found.
pub(crate) fn split(written: &str) -> Result<(&str, Option<&str>), String> {
    let Some(open) = written.find('{') else { return Ok((written, None)) };
    let malformed =
        || format!("expected a name such as presence_ack or presence_ack{{{TAG}:browser}}, found {written:?}");
    let inner = written[open + 1..].strip_suffix('}').ok_or_else(malformed)?;
    let (tag, value) = inner.split_once([':', '=']).ok_or_else(malformed)?;
    let (tag, value) = (tag.trim(), value.trim());
    if tag != TAG {
        return Err(format!(
            "expected the tag `{TAG}` in {written:?} (the only one latencies are kept by), found {tag:?}"
        ));
    }
    if value.is_empty() || value.contains(['{', '}']) {
        return Err(malformed());
    }
    Ok((written[..open].trim_end(), Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_are_read() {
        assert_eq!(split("presence_ack"), Ok(("presence_ack", None)));
        assert_eq!(split("presence_ack{behavior:browser}"), Ok(("presence_ack", Some("browser"))));
        assert_eq!(split("presence_ack{behavior=browser}"), Ok(("presence_ack", Some("browser"))));
        assert_eq!(split("connect{ behavior: tab-hopper }"), Ok(("connect", Some("tab-hopper"))));
    }

    #[test]
    fn malformed_selectors_say_what_was_expected() {
        assert!(split("presence_ack{behavior:browser").unwrap_err().starts_with("expected a name such as"));
        assert!(split("presence_ack{browser}").unwrap_err().starts_with("expected a name such as"));
        assert!(split("presence_ack{behavior:}").unwrap_err().starts_with("expected a name such as"));
        assert_eq!(
            split("presence_ack{name:browser}").unwrap_err(),
            "expected the tag `behavior` in \"presence_ack{name:browser}\" (the only one latencies are kept by), found \"name\""
        );
    }
}
