//! Reading Qase's JSON leniently, and the nesting limit of what is forwarded.
//!
//! Qase's payloads are read field by field with the wrappers here: a field that holds a value
//! of another type than expected is skipped (`None`), never an error. Each field is first
//! taken as it was sent (`RawValue`: `serde_json` checks its syntax and skips it without reading
//! numbers), then read when it has the expected kind. Not `serde_with`'s `DefaultOnError`: it
//! buffers every field into serde's `Content` (an allocation per field, on every webhook), and
//! a number too large for `f64` fails while being buffered. [`depth`] measures how deeply a
//! body nests, against [`MAX_JSON_DEPTH`].

use serde::de::{self, Deserialize, Deserializer};
use serde_json::value::RawValue;

/// The deepest nesting forwarded: what `serde_json` parses, whose recursion limit stops at 128
/// levels. Qase's payloads nest 4 levels; deeper JSON would only be forwarded to crash
/// subscribers' parsers. (A unit test below holds `serde_json` to it.)
pub const MAX_JSON_DEPTH: usize = 127;

/// How many levels of objects and arrays well-formed JSON `text` nests (`1` is `{}`, `0` a
/// scalar). Brackets inside strings do not count.
pub fn depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        match (in_string, byte) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (_, b'"') => in_string = !in_string,
            (false, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A JSON scalar read as `Self` from its text when it has the expected type. Numbers are read
/// from their literal: one too large for any number type (`1e999999`) is valid JSON, and a
/// field holding it is `None`, never an error.
pub trait Scalar: Sized {
    /// From the text of one JSON value, or `None` when it is of another type.
    fn from_json(text: &str) -> Option<Self>;
}

impl Scalar for String {
    fn from_json(text: &str) -> Option<Self> {
        text.starts_with('"')
            .then(|| serde_json::from_str(text).ok())
            .flatten()
    }
}

impl Scalar for u64 {
    fn from_json(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl Scalar for i64 {
    fn from_json(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl Scalar for bool {
    fn from_json(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A field read as `T` when it holds a `T` ([`Scalar`]), else `None`; `null` is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lenient<T>(pub Option<T>);

/// A field read as the struct `T` when it holds an object, else `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object<T>(pub Option<T>);

/// A field read as a list of `T` when it holds an array, else `None`. Each element must read
/// as `T` without failing: a [`Lenient`] or an [`Object`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Array<T>(pub Option<Vec<T>>);

impl<'de, T: Scalar> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Taken as it was sent (serde_json skips over it without reading numbers), then read.
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        Ok(Self(T::from_json(raw.get())))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        of_kind(deserializer, '{').map(Self)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        of_kind(deserializer, '[').map(Self)
    }
}

/// The value read as `T` when its text starts with `first` (an object's `{`, an array's
/// `[`), else `None`. Taken as it was sent first (which checks its syntax), then read.
fn of_kind<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
    first: char,
) -> Result<Option<T>, D::Error> {
    let raw = <&'de RawValue>::deserialize(deserializer)?.get();
    if !raw.starts_with(first) {
        return Ok(None);
    }
    serde_json::from_str(raw)
        .map(Some)
        .map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Debug, Default, PartialEq, Eq)]
    struct Tag {
        #[serde(default)]
        title: Lenient<String>,
    }

    #[derive(Deserialize, Debug)]
    struct Fields {
        #[serde(default)]
        id: Lenient<u64>,
        #[serde(default)]
        member: Lenient<i64>,
        #[serde(default)]
        title: Lenient<String>,
        #[serde(default)]
        tag: Object<Tag>,
        #[serde(default)]
        tags: Array<Object<Tag>>,
    }

    fn read(json: &str) -> Fields {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn a_field_of_the_expected_type_is_read() {
        let f = read(
            r#"{"id":42,"member":-3,"title":"t","tag":{"title":"x"},"tags":[{"title":"a"},7]}"#,
        );
        assert_eq!(
            (f.id.0, f.member.0, f.title.0.as_deref()),
            (Some(42), Some(-3), Some("t"))
        );
        assert_eq!(f.tag.0.and_then(|t| t.title.0).as_deref(), Some("x"));
        let tags = f.tags.0.unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].0.as_ref().unwrap().title.0.as_deref(), Some("a"));
        assert_eq!(tags[1].0, None, "an element that is no object");
    }

    #[test]
    fn a_field_of_another_type_is_none_and_the_rest_is_still_read() {
        for other in [
            "null",
            "true",
            "2.5",
            "-1",
            "1e300",
            "18446744073709551616",
            r#""42""#,
            "[1,[2,{}]]",
            r#"{"a":{"b":[1]}}"#,
        ] {
            let json = format!(
                r#"{{"id":{other},"title":{other},"tag":{other},"tags":{other},"member":7}}"#
            );
            let f = read(&json);
            assert_eq!(f.member.0, Some(7), "{json}: the fields after it are read");
            assert_eq!(f.id.0, None, "{json}");
            if other.starts_with('{') {
                assert_eq!(
                    f.tag.0.unwrap().title.0,
                    None,
                    "{json}: an object without a title"
                );
            } else {
                assert_eq!(f.tag.0, None, "{json}");
            }
            if other.starts_with('[') {
                let elements = f.tags.0.unwrap();
                assert!(
                    elements.iter().all(|e| e.0.is_none()),
                    "{json}: no object in it"
                );
            } else {
                assert_eq!(f.tags.0, None, "{json}");
            }
            if other != r#""42""# {
                assert_eq!(f.title.0, None, "{json}");
            }
        }
        assert_eq!(read(r#"{"member":18446744073709551615}"#).member.0, None);
        assert_eq!(read(r#"{"id":18446744073709551615}"#).id.0, Some(u64::MAX));
    }

    #[test]
    fn a_number_too_large_for_any_type_is_none_where_a_scalar_is_read() {
        let f =
            read(r#"{"id":1e999999,"title":-1e999999,"member":1e999999,"tag":{"title":1e999999}}"#);
        assert_eq!((f.id.0, f.title.0, f.member.0), (None, None, None));
        assert_eq!(f.tag.0.unwrap().title.0, None);
    }

    #[test]
    fn depth_counts_objects_and_arrays_but_not_brackets_in_strings() {
        assert_eq!(depth("7"), 0);
        assert_eq!(depth("{}"), 1);
        assert_eq!(depth(r#"{"a":[1,{"b":[]}],"c":{}}"#), 4);
        assert_eq!(depth(r#"{"a":"[[[{{{\"]]]"}"#), 1);
        assert_eq!(depth(r#"["\\", [["\\\""]]]"#), 3);
    }

    #[test]
    fn the_limit_is_what_serde_json_parses() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let deepest = nested(MAX_JSON_DEPTH);
        assert_eq!(depth(&deepest), MAX_JSON_DEPTH);
        assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_JSON_DEPTH + 1)).is_err());
    }
}
