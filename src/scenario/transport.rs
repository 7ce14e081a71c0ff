//! `transport:`: which transport visitors connect with, one for all (`transport: xhr_polling`)
//! or a mix (`transport: { sockjs: 80%, xhr_streaming: 15%, xhr_polling: 5% }`), at target
//! level and per behavior.
//!
//! A mix is not drawn at random: visitor `j` takes the transport its slot falls in, the slot
//! being `j` stepped by a fixed stride (coprime with [`SLOTS`]) from an offset the seed
//! chooses. Any [`SLOTS`] consecutive visitors then hold the shares exactly, a few hundred
//! hold them within a visitor or two, and since the choice depends only on the global
//! index and the seed, shards (which split visitors by index) split the mix exactly as one
//! process would.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::measure::edit_distance;
use crate::wire::Transport;

/// Shares are counted in hundredths of a percent.
pub const SLOTS: u32 = 10_000;
/// Stride between visitors' slots: odd and not a multiple of 5, so coprime with [`SLOTS`];
/// near the golden ratio, so neighbouring visitors spread over the whole range.
const STRIDE: u64 = 6_181;

/// The transports of a scenario or a behavior, each with its share of [`SLOTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportMix {
    /// Shares above zero, adding up to [`SLOTS`], in the order written.
    shares: Vec<(Transport, u32)>,
}

impl Default for TransportMix {
    fn default() -> Self {
        TransportMix::single(Transport::default())
    }
}

impl TransportMix {
    /// Every visitor on `transport`.
    pub fn single(transport: Transport) -> Self {
        TransportMix {
            shares: vec![(transport, SLOTS)],
        }
    }

    /// The transport of visitor number `index` in a run seeded with `seed`.
    pub fn pick(&self, seed: u64, index: u64) -> Transport {
        let offset = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let mut slot = (index.wrapping_mul(STRIDE).wrapping_add(offset) % u64::from(SLOTS)) as u32;
        for &(transport, share) in &self.shares {
            match slot.checked_sub(share) {
                Some(rest) => slot = rest,
                None => return transport,
            }
        }
        // Unreachable: the shares add up to SLOTS.
        self.shares[self.shares.len() - 1].0
    }

    /// The transport with the largest share (the first written among equals): the one agents
    /// and the start-up check use.
    pub fn main(&self) -> Transport {
        let mut main = self.shares[0];
        for &share in &self.shares[1..] {
            if share.1 > main.1 {
                main = share;
            }
        }
        main.0
    }

    /// The transports in the mix, as written.
    pub fn transports(&self) -> impl Iterator<Item = Transport> + '_ {
        self.shares.iter().map(|(transport, _)| *transport)
    }
}

const EXPECTED: &str =
    "a transport (sockjs, raw_websocket, xhr_streaming, xhr_polling, eventsource) or a mix such as \
                        { sockjs: 80%, xhr_polling: 20% }";

/// The transport named `name`, or an error listing the names and the closest one.
fn transport_named<E: de::Error>(name: &str) -> Result<Transport, E> {
    Transport::from_name(name).ok_or_else(|| {
        let names = Transport::ALL.map(Transport::name);
        let closest = names
            .iter()
            .map(|known| (edit_distance(name, known), known))
            .min_by_key(|(d, _)| *d);
        let hint = match closest {
            // The name raw WebSocket had until the server's metrics and the harness's shared
            // one vocabulary, where it meant SockJS over WebSocket on the server's side.
            _ if name == "websocket" => {
                ": raw WebSocket is now raw_websocket (SockJS over WebSocket is sockjs)".to_owned()
            }
            Some((distance, known)) if distance <= 3 => format!(": did you mean {known}?"),
            _ => String::new(),
        };
        E::custom(format!(
            "expected a transport ({}), found {name:?}{hint}",
            names.join(", ")
        ))
    })
}

/// A share written as a percentage, `15%` or `2.5%`, in hundredths of a percent.
fn share_of<E: de::Error>(transport: Transport, text: &str) -> Result<u32, E> {
    let invalid = || {
        E::custom(format!(
            "expected the share of {} as a percentage such as 15% or 2.5% (to 0.01%), found \
             {text:?}",
            transport.name()
        ))
    };
    let percent: f64 = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(invalid)?
        .trim()
        .parse()
        .map_err(|_| invalid())?;
    let hundredths = percent * 100.0;
    if !(0.0..=f64::from(SLOTS)).contains(&hundredths)
        || (hundredths - hundredths.round()).abs() > 1e-6
    {
        return Err(invalid());
    }
    Ok(hundredths.round() as u32)
}

impl<'de> Deserialize<'de> for TransportMix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MixVisitor;

        impl<'de> Visitor<'de> for MixVisitor {
            type Value = TransportMix;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<TransportMix, E> {
                transport_named(name).map(TransportMix::single)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TransportMix, A::Error> {
                let mut shares: Vec<(Transport, u32)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let transport = transport_named(&name)?;
                    if shares.iter().any(|(t, _)| *t == transport) {
                        return Err(de::Error::custom(format!(
                            "expected each transport once, found {name} twice"
                        )));
                    }
                    let share = share_of(transport, &map.next_value::<String>()?)?;
                    shares.push((transport, share));
                }
                let total: u32 = shares.iter().map(|(_, share)| share).sum();
                if total != SLOTS {
                    return Err(de::Error::custom(format!(
                        "expected transport shares adding up to 100%, found {}%",
                        f64::from(total) / 100.0
                    )));
                }
                shares.retain(|(_, share)| *share > 0);
                Ok(TransportMix { shares })
            }
        }

        deserializer.deserialize_any(MixVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(yaml: &str) -> Result<TransportMix, String> {
        serde_yaml::from_str::<TransportMix>(yaml).map_err(|err| err.to_string())
    }

    fn counts(mix: &TransportMix, seed: u64, indices: impl Iterator<Item = u64>) -> [u32; 5] {
        let mut counts = [0; 5];
        for index in indices {
            let transport = mix.pick(seed, index);
            counts[Transport::ALL.iter().position(|t| *t == transport).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn a_mix_is_held_exactly_and_closely_on_few_visitors() {
        let mix = mix("{ sockjs: 80%, xhr_streaming: 15%, xhr_polling: 5% }").unwrap();
        for seed in [1, 2, 99] {
            assert_eq!(
                counts(&mix, seed, 0..u64::from(SLOTS)),
                [8_000, 0, 1_500, 500, 0]
            );
            assert_eq!(
                counts(&mix, seed, 7..7 + u64::from(SLOTS)),
                [8_000, 0, 1_500, 500, 0]
            );
            let few = counts(&mix, seed, 0..200);
            assert!(
                few[0].abs_diff(160) <= 2 && few[2].abs_diff(30) <= 2 && few[3].abs_diff(10) <= 2,
                "{few:?}"
            );
        }
        assert_eq!(mix.main(), Transport::Sockjs);
        // The seed moves who gets which, not how many.
        let firsts: Vec<Transport> = (0..20).map(|index| mix.pick(1, index)).collect();
        let others: Vec<Transport> = (0..20).map(|index| mix.pick(2, index)).collect();
        assert_ne!(firsts, others);
    }

    #[test]
    fn shards_split_the_mix_as_one_process_does() {
        let mix = mix("{ sockjs: 50%, xhr_polling: 25%, eventsource: 25% }").unwrap();
        let shard = crate::shard::Shard::new(1, 3).unwrap();
        for local in 0..100 {
            let global = shard.global(local);
            assert_eq!(
                mix.pick(5, global),
                mix.pick(5, global),
                "a pick depends on the global index only"
            );
        }
        let whole = counts(&mix, 5, 0..300);
        let striped: Vec<[u32; 5]> = (0..3)
            .map(|k| counts(&mix, 5, (0..100).map(move |l| l * 3 + k)))
            .collect();
        let summed: Vec<u32> = (0..5).map(|t| striped.iter().map(|c| c[t]).sum()).collect();
        assert_eq!(summed, whole);
    }

    #[test]
    fn single_names_and_mixes_parse() {
        assert_eq!(
            mix("xhr_polling").unwrap(),
            TransportMix::single(Transport::XhrPolling)
        );
        let one = mix("{ eventsource: 100%, xhr_polling: 0% }").unwrap();
        assert_eq!(
            one.transports().collect::<Vec<_>>(),
            [Transport::Eventsource]
        );
        assert_eq!(
            mix("{ sockjs: 0.5%, raw_websocket: 99.5% }")
                .unwrap()
                .main(),
            Transport::RawWebsocket
        );
    }

    #[test]
    fn bad_mixes_are_refused_with_what_was_expected() {
        let err = mix("xhr-streaming").unwrap_err();
        assert!(
            err.contains("found \"xhr-streaming\": did you mean xhr_streaming?"),
            "{err}"
        );
        let err = mix("websocket").unwrap_err();
        assert!(
            err.contains("found \"websocket\": raw WebSocket is now raw_websocket"),
            "{err}"
        );
        let err = mix("{ sockjs: 80%, xhr_polling: 15% }").unwrap_err();
        assert!(err.contains("adding up to 100%, found 95%"), "{err}");
        let err = mix("{ sockjs: 80, xhr_polling: 20% }").unwrap_err();
        assert!(err.contains("share of sockjs as a percentage"), "{err}");
        assert!(mix("{ sockjs: 100.001% }").is_err());
        assert!(mix("{ sockjs: -5%, raw_websocket: 105% }").is_err());
        let err = mix("{ sockjs: 50%, sockjs: 50% }").unwrap_err();
        assert!(err.contains("sockjs"), "{err}");
        let err = mix("{ polling: 100% }").unwrap_err();
        assert!(
            err.contains("expected a transport (sockjs, raw_websocket, xhr_streaming"),
            "{err}"
        );
    }
}
