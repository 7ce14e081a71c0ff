//! A bound on how deeply flow collections (`[...]`, `{...}`) nest, checked on the raw text
//! before any YAML parsing: the YAML scanner (libyaml) looks at every open level on every
//! token, so reading text nested `n` deep costs `n²` (20,000 nested `repeat`s took 30 s).
//! Block collections cannot nest that deep without lines that long, so they cost no more
//! than their size.

/// Deepest nesting of flow collections read at all: room for repeats nested as deep as
/// allowed (each is three levels, `{ repeat: { steps: [ ... ] } }`), and their steps.
pub(crate) const MAX_FLOW_DEPTH: usize = 96;

/// Line and column (1-based) of the bracket that opens a collection deeper than
/// [`MAX_FLOW_DEPTH`], if there is one. Brackets count only where YAML reads them as the start
/// of a collection (at the start of a value or item), not inside quotes, comments or words.
pub(crate) fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0;
    let (mut line, mut column) = (1, 0);
    let mut quote = None;
    let mut comment = false;
    // The last character that was not a space on this line ('\n' at its start), and the
    // character just before this one (a space at the start of a line).
    let (mut before, mut previous) = ('\n', ' ');
    for c in text.chars() {
        if c == '\n' {
            (line, column, comment, before, previous) = (line + 1, 0, false, '\n', ' ');
            continue;
        }
        column += 1;
        if comment {
            continue;
        }
        let starts_value = matches!(before, '\n' | ':' | '-' | '[' | '{' | ',' | '?');
        match (quote, c) {
            (Some(open), _) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if starts_value => quote = Some(c),
            (None, '#') if previous.is_whitespace() => comment = true,
            (None, '[' | '{') if starts_value => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some((line, column));
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !c.is_whitespace() {
            // A bracket or quote inside a word is part of the word, and so is what follows.
            let in_word = quote.is_none() && !starts_value && matches!(c, '[' | '{' | '"' | '\'');
            before = if in_word { 'a' } else { c };
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_found_where_it_crosses_the_bound() {
        let deep = format!("a:\n  b: {}x{}\n", "[".repeat(200), "]".repeat(200));
        assert_eq!(too_deep(&deep), Some((2, 6 + MAX_FLOW_DEPTH)));
        let fine = format!(
            "a: {}x{}\n",
            "{ k: ".repeat(MAX_FLOW_DEPTH),
            "}".repeat(MAX_FLOW_DEPTH)
        );
        assert_eq!(too_deep(&fine), None);
    }

    #[test]
    fn brackets_in_quotes_comments_and_words_do_not_count() {
        let brackets = "[".repeat(200);
        assert_eq!(
            too_deep(&format!("a: \"{brackets}\"\nb: '{brackets}'\n")),
            None
        );
        assert_eq!(
            too_deep(&format!("# {brackets}\na: 1 # {brackets}\n")),
            None
        );
        assert_eq!(
            too_deep(&format!("title: don't{brackets}\nurl: x{brackets}\n")),
            None
        );
    }
}
