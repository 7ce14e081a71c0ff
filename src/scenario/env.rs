//! Environment substitution in scenario files: `${TARGET_URL}`, `${VISITORS:-1000}`, so one
//! scenario serves every environment without editing it. Done on the text before any YAML is
//! read, so a substituted value is validated like one written in the file; `$${` is a
//! literal `${`. An unset variable without a default is an error at its line and column.

use super::error::Invalid;

/// `text` with every `${NAME}` and `${NAME:-default}` replaced through `lookup`; every
/// placeholder that cannot be replaced is reported, in text order.
pub fn substitute(
    text: &str,
    file: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Invalid>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        let mut column = 1;
        while let Some(at) = rest.find("${") {
            let escaped = rest[..at].ends_with('$');
            let before = if escaped {
                &rest[..at - 1]
            } else {
                &rest[..at]
            };
            out.push_str(before);
            column += rest[..at].chars().count();
            let after = &rest[at + 2..];
            if escaped {
                out.push_str("${");
                rest = after;
                column += 2;
                continue;
            }
            let invalid = |message: String| Invalid {
                file: file.to_owned(),
                line: index + 1,
                column,
                path: String::new(),
                message,
            };
            let Some(end) = after.find('}') else {
                errors.push(invalid(
                    "`${` is not closed by `}` on its line (write `$${` for a literal `${`)"
                        .to_owned(),
                ));
                out.push_str(&rest[at..]);
                rest = "";
                break;
            };
            let placeholder = &after[..end];
            let (name, default) = match placeholder.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (placeholder, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                errors.push(invalid(format!(
                    "`${{{placeholder}}}`: a variable name is letters, digits and `_`"
                )));
            } else {
                // As in the shell, `:-` also stands in for a variable set to nothing.
                let value = lookup(name).filter(|value| !value.is_empty() || default.is_none());
                match value.or_else(|| default.map(str::to_owned)) {
                    // Values spanning lines would move every location after them.
                    Some(value) if value.contains('\n') => errors.push(invalid(format!(
                        "${{{name}}}: the value holds a line break, which is not allowed"
                    ))),
                    Some(value) => out.push_str(&value),
                    None => errors.push(invalid(format!(
                        "${{{name}}} is not set (set it, or give a default: ${{{name}:-value}})"
                    ))),
                }
            }
            column += placeholder.chars().count() + 3;
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TARGET_URL" => Some("http://127.0.0.1:7700".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn set_variables_and_defaults_are_replaced() {
        let text = "target: { url: \"${TARGET_URL}\" }\n\
                    load: { stages: [ { to: ${VISITORS:-1000}, over: 1s } ] }\n\
                    x: ${EMPTY:-no}$${KEEP}\n";
        let out = substitute(text, "s.yaml", env).unwrap();
        assert_eq!(
            out,
            "target: { url: \"http://127.0.0.1:7700\" }\n\
             load: { stages: [ { to: 1000, over: 1s } ] }\nx: no${KEEP}\n"
        );
    }

    #[test]
    fn every_unset_variable_is_named_at_its_place() {
        let text = "name: x\nduration: ${DURATION}\nload: ${A:-1} ${B} ${bad name}\n";
        let errors = substitute(text, "s.yaml", env).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].starts_with("s.yaml:2:11: ${DURATION} is not set"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with("s.yaml:3:15: ${B} is not set"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with("s.yaml:3:20: `${bad name}`"),
            "{}",
            shown[2]
        );
    }

    #[test]
    fn an_unclosed_placeholder_is_an_error() {
        let errors = substitute("a: ${OPEN\n", "s.yaml", env).unwrap_err();
        assert_eq!((errors[0].line, errors[0].column), (1, 4));
    }
}
