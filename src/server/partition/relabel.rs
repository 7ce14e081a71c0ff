//! One `/metrics` for a partitioned server: every child's Prometheus text, each sample
//! labelled with `process="i"`, each family's `# HELP`/`# TYPE` once with all its samples
//! after it (the text format wants a family's lines together).

/// One family: its header lines and every process's samples.
struct Family {
    name: String,
    header: Vec<String>,
    samples: Vec<String>,
}

/// Merges the texts of processes `0..texts.len()`, in that order.
pub fn merge(texts: &[String]) -> String {
    let mut families: Vec<Family> = Vec::new();
    for (process, text) in texts.iter().enumerate() {
        let mut current: Option<usize> = None;
        for line in text.lines() {
            if let Some(rest) = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
            {
                let name = rest.split_whitespace().next().unwrap_or_default();
                let at = match families.iter().position(|family| family.name == name) {
                    Some(at) => at,
                    None => {
                        families.push(Family {
                            name: name.to_owned(),
                            header: Vec::new(),
                            samples: Vec::new(),
                        });
                        families.len() - 1
                    }
                };
                if !families[at].header.iter().any(|known| known == line) {
                    families[at].header.push(line.to_owned());
                }
                current = Some(at);
            } else if line.is_empty() || line.starts_with('#') {
                continue;
            } else if let Some(at) = current {
                families[at].samples.push(labelled(line, process));
            }
        }
    }
    let mut out = String::new();
    for family in families {
        for line in family.header.iter().chain(&family.samples) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `name{a="b"} 1` -> `name{process="i",a="b"} 1`; `name 1` -> `name{process="i"} 1`.
fn labelled(sample: &str, process: usize) -> String {
    let name_end = sample.find(['{', ' ']).unwrap_or(sample.len());
    let (name, rest) = sample.split_at(name_end);
    match rest.strip_prefix('{') {
        Some(labels) if labels.starts_with('}') => format!("{name}{{process=\"{process}\"{labels}"),
        Some(labels) => format!("{name}{{process=\"{process}\",{labels}"),
        None => format!("{name}{{process=\"{process}\"}}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "# HELP s Open.\n# TYPE s gauge\ns{server=\"p0-s1\"} 2\n# HELP k Kills.\n\
                       # TYPE k counter\nk 0\n";
    const TWO: &str = "# HELP s Open.\n# TYPE s gauge\ns{server=\"p1-s1\"} 5\n# HELP k Kills.\n\
                       # TYPE k counter\nk 1\n";

    #[test]
    fn every_sample_says_its_process_and_families_stay_together() {
        let merged = merge(&[ONE.to_owned(), TWO.to_owned()]);
        let expected = "# HELP s Open.\n# TYPE s gauge\ns{process=\"0\",server=\"p0-s1\"} 2\n\
                        s{process=\"1\",server=\"p1-s1\"} 5\n# HELP k Kills.\n# TYPE k counter\n\
                        k{process=\"0\"} 0\nk{process=\"1\"} 1\n";
        assert_eq!(merged, expected);
    }

    #[test]
    fn empty_label_sets_get_the_process_alone() {
        assert_eq!(labelled("x{} 3", 4), "x{process=\"4\"} 3");
    }
}
