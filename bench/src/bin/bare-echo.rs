//! The floor for `make bench`: the smallest useful Rust Lambda, an echo on `lambda_runtime`
//! with no AWS SDK, built with the same release profile as the function.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
