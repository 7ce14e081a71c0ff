//! Histograms carried in summary.json, so that a summary merges on its own: HdrHistogram's V2
//! serialization, deflated, in base64 (the encoding of an .hlog line, which other HdrHistogram
//! tools read too). Adding decoded histograms is exact: the merged percentiles are those of
//! one histogram holding every sample.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use thiserror::Error;

/// A histogram in summary.json that cannot be read back.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("not an HdrHistogram V2 histogram: {0}")]
    Histogram(String),
}

/// `histogram` as V2-deflate base64 text.
pub fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serializing into memory only fails on counts past i64, which a run never reaches");
    STANDARD.encode(bytes)
}

/// Reads back what [`encode`] wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = STANDARD.decode(text)?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|err| DecodeError::Histogram(format!("{err:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::new_histogram;

    #[test]
    fn a_histogram_comes_back_whole() {
        let mut histogram = new_histogram();
        for v in [1, 17, 900, 12_345, 3_600_000] {
            histogram.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&histogram)).unwrap();
        assert_eq!(back, histogram);
        assert!(matches!(decode("!!"), Err(DecodeError::Base64(_))));
        assert!(matches!(decode("AAAA"), Err(DecodeError::Histogram(_))));
    }
}
