//! Discovery, `GET /locate?group=G&visitor=V` (docs/protocol.md section 4): the request's
//! address and its answer, as both the directory and its clients write and read them.

use serde::{Deserialize, Serialize};

/// The answer to `/locate`: the instance a visitor should connect to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Located {
    /// `ws://HOST:PORT/presence`
    pub url: String,
    /// The instance's name.
    pub server: String,
}

/// The `/locate` URL of the directory at `base` (`http://HOST:PORT`) for `visitor` of
/// `group`, its query percent-encoded; `None` if they cannot be encoded.
pub fn locate_url(base: &str, group: &str, visitor: &str) -> Option<String> {
    let query = serde_urlencoded::to_string([("group", group), ("visitor", visitor)]).ok()?;
    Some(format!("{}/locate?{query}", base.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_encoded_and_the_base_may_end_in_a_slash() {
        assert_eq!(
            locate_url("http://h:1/", "g 1", "v&2").as_deref(),
            Some("http://h:1/locate?group=g+1&visitor=v%262")
        );
    }
}
