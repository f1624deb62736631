//! The webhook secrets the handler checks against, kept current through a rotation: fixed
//! (from the environment: the current secret and, while Qase is switched over, the previous
//! one), or read again from where they are kept (Secrets Manager's `AWSCURRENT` and
//! `AWSPREVIOUS`), so that a rotation takes effect without a deploy or a cold start:
//!
//! - when a request carries neither (the new secret may have arrived);
//! - when the previous one let a request in (it may have been retired: once `AWSPREVIOUS` no
//!   longer holds it, it is refused);
//! - when the secrets held are older than [`MAX_SECRET_AGE`] (an environment that read them
//!   before a rotation would otherwise take the old secret for the current one, and count
//!   nothing in `PreviousSecretUsed`).
//!
//! At most once every [`REREAD_INTERVAL`] per execution environment, so that a flood of wrong
//! secrets cannot become a flood of reads. A failed read keeps the secrets held; [`Judged`]
//! carries its error (which names the variable, never a value) for the handler to log.
//!
//! The comparison is `crate::auth`'s; reading the secret is a port ([`Reread`]) that
//! `crate::aws::secrets_manager` implements. Nothing here shows a secret.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::auth::{Admitted, AuthError, Secrets};

/// The least time between two reads of the secrets by one execution environment.
pub const REREAD_INTERVAL: Duration = Duration::from_secs(10);
/// How long secrets read from Secrets Manager are trusted without a reason to read them again.
pub const MAX_SECRET_AGE: Duration = Duration::from_mins(5);

/// Why the secrets could not be read again (the adapter's error, without the values).
pub type RereadError = Box<dyn std::error::Error + Send + Sync>;

/// Reads the secrets again from where they are kept.
pub trait Reread: Send + Sync + fmt::Debug {
    /// The secrets as they are now.
    fn reread(&self) -> Pin<Box<dyn Future<Output = Result<Secrets, RereadError>> + Send + '_>>;
}

/// How a request's `X-Qase-Secret` was judged.
#[derive(Debug)]
pub struct Judged {
    /// Which secret let it in, or why it was not.
    pub result: Result<Admitted, AuthError>,
    /// Whether the secrets were read again for it: `Some(false)` when the read failed.
    pub reread: Option<Result<(), RereadError>>,
}

/// The secrets (whose `Debug` is redacted), and how to read them again when a rotation may
/// have changed them.
#[derive(Debug)]
pub struct SecretStore {
    secrets: Mutex<Secrets>,
    reread: Option<Box<dyn Reread>>,
    reads: Mutex<Reads>,
}

/// When the store read the secrets.
#[derive(Debug)]
struct Reads {
    /// When a request last made it read them again (whether or not the read succeeded).
    started: Option<Instant>,
    /// When the secrets held were read.
    held_since: Instant,
}

impl SecretStore {
    /// Secrets that never change while the function runs (from the environment).
    pub fn fixed(secrets: Secrets) -> Self {
        Self {
            secrets: Mutex::new(secrets),
            reread: None,
            reads: Mutex::new(Reads {
                started: None,
                held_since: Instant::now(),
            }),
        }
    }

    /// Secrets just read (at cold start), read again with `reread` (see the module's doc).
    pub fn rereading(secrets: Secrets, reread: Box<dyn Reread>) -> Self {
        Self {
            reread: Some(reread),
            ..Self::fixed(secrets)
        }
    }

    /// Judges the `X-Qase-Secret` values a request carried. A wrong one, one the previous
    /// secret let in, or secrets held too long make the store read the secrets again first,
    /// when it may (a reader, and [`REREAD_INTERVAL`] since the last read): the request then
    /// gets the answer the secrets as they are now give.
    pub async fn admit(&self, values: &[&[u8]]) -> Judged {
        let result = self.secrets().check(values.iter().copied());
        // A fixed store (no reader) decides nothing more: the request path stays one lock.
        let Some(reread) = self.reread.as_ref().filter(|_| self.starts_read(result)) else {
            return Judged {
                result,
                reread: None,
            };
        };
        match reread.reread().await {
            Ok(secrets) => {
                *self.secrets() = secrets;
                self.reads().held_since = Instant::now();
                Judged {
                    result: self.secrets().check(values.iter().copied()),
                    reread: Some(Ok(())),
                }
            }
            Err(failed) => Judged {
                result,
                reread: Some(Err(failed)),
            },
        }
    }

    fn secrets(&self) -> std::sync::MutexGuard<'_, Secrets> {
        // Every write is one assignment: a panic elsewhere cannot leave it half-updated.
        self.secrets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `result` is a reason to read the secrets again and a read may start now
    /// ([`REREAD_INTERVAL`] since the last); if so, it counts as started.
    fn starts_read(&self, result: Result<Admitted, AuthError>) -> bool {
        let mut reads = self.reads();
        let now = Instant::now();
        let reason = match result {
            Err(AuthError::WrongSecret) | Ok(Admitted::Previous) => true,
            Err(_) => false,
            Ok(Admitted::Current) => now.duration_since(reads.held_since) >= MAX_SECRET_AGE,
        };
        if !reason
            || reads
                .started
                .is_some_and(|s| now.duration_since(s) < REREAD_INTERVAL)
        {
            return false;
        }
        reads.started = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::auth::Secret;

    const OLD: &str = "old-secret-old-secret";
    const NEW: &str = "new-secret-new-secret";

    /// A store of secrets that reads `then` (and counts the reads).
    #[derive(Debug)]
    struct Rotated {
        then: (&'static str, Option<&'static str>),
        reads: Arc<AtomicUsize>,
    }

    impl Reread for Rotated {
        fn reread(
            &self,
        ) -> Pin<Box<dyn Future<Output = Result<Secrets, RereadError>> + Send + '_>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let (current, previous) = self.then;
            Box::pin(async move {
                Ok(Secrets {
                    current: Secret::new(current).unwrap(),
                    previous: previous.map(|p| Secret::new(p).unwrap()),
                })
            })
        }
    }

    fn store(reads: &Arc<AtomicUsize>) -> SecretStore {
        let reread = Rotated {
            then: (NEW, Some(OLD)),
            reads: reads.clone(),
        };
        SecretStore::rereading(Secrets::only(Secret::new(OLD).unwrap()), Box::new(reread))
    }

    #[tokio::test(start_paused = true)]
    async fn a_rotation_takes_effect_on_the_first_request_that_carries_the_new_secret() {
        let reads = Arc::new(AtomicUsize::new(0));
        let store = store(&reads);
        let judged = store.admit(&[OLD.as_bytes()]).await;
        assert_eq!(judged.result, Ok(Admitted::Current));
        assert_eq!(
            reads.load(Ordering::SeqCst),
            0,
            "the right secret reads nothing"
        );

        let judged = store.admit(&[NEW.as_bytes()]).await;
        assert_eq!(
            judged.result,
            Ok(Admitted::Current),
            "read again, then admitted"
        );
        assert!(matches!(judged.reread, Some(Ok(()))));
        assert_eq!(
            store.admit(&[OLD.as_bytes()]).await.result,
            Ok(Admitted::Previous)
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_wrong_secrets_reads_at_most_once_every_ten_seconds() {
        let reads = Arc::new(AtomicUsize::new(0));
        let store = store(&reads);
        for _ in 0..100 {
            let judged = store.admit(&[b"wrong-secret-wrong-secret"]).await;
            assert_eq!(judged.result, Err(AuthError::WrongSecret));
        }
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "one read in the first 10 s"
        );
        tokio::time::advance(Duration::from_millis(9_999)).await;
        let _ = store.admit(&[b"wrong-secret-wrong-secret"]).await;
        assert_eq!(reads.load(Ordering::SeqCst), 1, "not before 10 s");
        tokio::time::advance(Duration::from_millis(1)).await;
        let _ = store.admit(&[b"wrong-secret-wrong-secret"]).await;
        assert_eq!(reads.load(Ordering::SeqCst), 2, "again after 10 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retired_previous_secret_is_refused_at_its_next_use_after_ten_seconds() {
        let reads = Arc::new(AtomicUsize::new(0));
        let retired = Rotated {
            then: (NEW, None),
            reads: reads.clone(),
        };
        let store = SecretStore::rereading(
            Secrets {
                current: Secret::new(NEW).unwrap(),
                previous: Some(Secret::new(OLD).unwrap()),
            },
            Box::new(retired),
        );
        let judged = store.admit(&[OLD.as_bytes()]).await;
        assert_eq!(
            judged.result,
            Err(AuthError::WrongSecret),
            "read again: retired"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert_eq!(
            store.admit(&[NEW.as_bytes()]).await.result,
            Ok(Admitted::Current)
        );
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "the current one reads nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn secrets_held_five_minutes_are_read_again_so_a_rotated_one_counts_as_previous() {
        let reads = Arc::new(AtomicUsize::new(0));
        let store = store(&reads);
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(
            store.admit(&[OLD.as_bytes()]).await.result,
            Ok(Admitted::Current)
        );
        assert_eq!(reads.load(Ordering::SeqCst), 0, "not before 5 minutes");
        tokio::time::advance(Duration::from_secs(1)).await;
        let judged = store.admit(&[OLD.as_bytes()]).await;
        assert_eq!(
            judged.result,
            Ok(Admitted::Previous),
            "OLD was rotated out meanwhile"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_secret_or_a_fixed_store_never_reads() {
        let reads = Arc::new(AtomicUsize::new(0));
        let store = store(&reads);
        assert_eq!(store.admit(&[]).await.result, Err(AuthError::MissingSecret));
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        let fixed = SecretStore::fixed(Secrets::only(Secret::new(OLD).unwrap()));
        let judged = fixed.admit(&[NEW.as_bytes()]).await;
        assert_eq!(judged.result, Err(AuthError::WrongSecret));
        assert!(judged.reread.is_none());
        assert!(
            !format!("{fixed:?}").contains(OLD),
            "Debug never shows a secret"
        );
    }
}
