//! The one value the sample events, the tests, `make demo` and `make bench` share: the
//! webhook secret the events in `events/` carry (never a production secret). `make bench`
//! includes this file by path; `scripts/demo.py` reads the value from `events/`.

/// The secret the sample events in `events/` carry; `make watch` and `make demo` configure it.
pub const SECRET: &str = "local-demo-secret";
