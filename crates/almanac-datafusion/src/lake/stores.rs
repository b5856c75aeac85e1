//! The object store behind a lake URL, configured the standard way for each
//! cloud from the environment:
//!
//! - `s3://bucket/prefix`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`, `AWS_REGION`, web identity / ECS / instance
//!   credentials; `AWS_ENDPOINT_URL` for S3-compatible stores (MinIO, Ceph),
//!   with `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint; without keys in the
//!   environment, the keys of the profile `$AWS_PROFILE` (else `default`) in
//!   `~/.aws/credentials` and `~/.aws/config`.
//! - `gs://bucket/prefix`: `GOOGLE_APPLICATION_CREDENTIALS` or
//!   `GOOGLE_SERVICE_ACCOUNT`, else the gcloud default credentials.
//! - `az://container/prefix`: `AZURE_STORAGE_ACCOUNT_NAME` with
//!   `AZURE_STORAGE_ACCOUNT_KEY`, a SAS token or a service principal.
//! - `http(s)://host/prefix`: a WebDAV server (listing needs PROPFIND).
//! - `file:///folder`: the local file system.

use std::sync::Arc;
use std::time::Duration;

use datafusion::error::{DataFusionError, Result};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, RetryConfig};
use url::Url;

/// Retries of a failed request: enough for a flaky network, short enough that
/// a wrong endpoint fails in seconds rather than the library's three minutes.
fn retries() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
        ..RetryConfig::default()
    }
}

/// The store serving `url` (the lake's root).
pub fn object_store_for(url: &Url) -> Result<Arc<dyn ObjectStore>> {
    let bucket_url = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    let built: object_store::Result<Arc<dyn ObjectStore>> = match url.scheme() {
        "file" => return Ok(Arc::new(LocalFileSystem::new())),
        "s3" | "s3a" => super::aws_profile::with_profile(AmazonS3Builder::from_env())
            .map_err(|e| DataFusionError::Plan(format!("{url}: {e}")))?
            .with_url(bucket_url)
            .with_retry(retries())
            .build()
            .map(|s| Arc::new(s) as _),
        "gs" => GoogleCloudStorageBuilder::from_env()
            .with_url(bucket_url)
            .with_retry(retries())
            .build()
            .map(|s| Arc::new(s) as _),
        "az" | "azure" | "abfs" | "abfss" => MicrosoftAzureBuilder::from_env()
            .with_url(url.as_str())
            .with_retry(retries())
            .build()
            .map(|s| Arc::new(s) as _),
        "http" | "https" => {
            let origin = url.origin().ascii_serialization();
            HttpBuilder::new().with_url(origin).build().map(|s| Arc::new(s) as _)
        }
        other => {
            return Err(DataFusionError::Plan(format!(
                "--data {url}: unknown scheme {other}:// (use a folder, file://, s3://, gs://, az:// or https://)"
            )))
        }
    };
    built.map_err(|e| DataFusionError::Plan(format!("--data {url}: {}", explain(url, &e))))
}

/// A plain account of an object-store failure, with what to check.
pub fn explain(url: &Url, e: &object_store::Error) -> String {
    let text = e.to_string();
    // A 401 or 403 the store's client saw comes typed; the text is read for
    // the rest (errors it passes on as `Generic`, such as S3's XML bodies).
    let hint = match e {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => CREDENTIALS_REFUSED,
        _ => hint(&text),
    };
    format!("{url}: {hint}: {}", condensed(&text))
}

const CREDENTIALS_REFUSED: &str = "the credentials were refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the cloud's equivalent)";

/// What an object-store failure's `text` means and what to check.
fn hint(text: &str) -> &'static str {
    let lower = text.to_ascii_lowercase();
    if lower.contains("nosuchbucket") || lower.contains("bucket does not exist") {
        "the bucket does not exist"
    } else if lower.contains("invalidaccesskeyid")
        || lower.contains("signaturedoesnotmatch")
        || lower.contains("accessdenied")
        || has_number(&lower, "403")
        || lower.contains("credential")
    {
        CREDENTIALS_REFUSED
    } else if lower.contains("connect")
        || lower.contains("sending request")
        || lower.contains("dns")
        || lower.contains("timed out")
    {
        "the endpoint cannot be reached (check AWS_ENDPOINT_URL, the network, and AWS_ALLOW_HTTP for http://)"
    } else {
        "the object store refused the request"
    }
}

/// Whether `number` stands in `text` as a number of its own (an HTTP status),
/// not as digits of another ("in 425.403155ms" is no 403).
fn has_number(text: &str, number: &str) -> bool {
    let part_of_number = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == '.');
    text.match_indices(number).any(|(at, _)| {
        !part_of_number(text[..at].chars().next_back())
            && !part_of_number(text[at + number.len()..].chars().next())
    })
}

/// An S3-style XML error body cut down to its code and message; other text as is.
fn condensed(text: &str) -> String {
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let end = start + text[start..].find(close)?;
        Some(&text[start..end])
    };
    match (
        between("<Code>", "</Code>"),
        between("<Message>", "</Message>"),
    ) {
        (Some(code), Some(message)) => {
            let before = text
                .find("<?xml")
                .or_else(|| text.find("<Error>"))
                .unwrap_or(0);
            format!("{}{code}: {message}", &text[..before])
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_error_bodies_are_condensed() {
        let text = "Error performing GET http://h/bank: 403 Forbidden: <?xml version=\"1.0\"?>\
                    <Error><Code>InvalidAccessKeyId</Code><Message>No such key.</Message>\
                    <RequestId>x</RequestId></Error>";
        assert_eq!(
            condensed(text),
            "Error performing GET http://h/bank: 403 Forbidden: InvalidAccessKeyId: No such key."
        );
        assert_eq!(condensed("plain failure"), "plain failure");
    }

    #[test]
    fn a_status_is_told_from_digits_of_a_duration() {
        // Once seen in CI: an unreachable endpoint's retries took 425.403155 ms.
        let unreachable =
            "Generic S3 error: Error performing GET http://127.0.0.1:37945/bank/demo/almanac.toml \
                           in 425.403155ms, after 3 retries, max_retries: 3, retry_timeout: 20s  - \
                           HTTP error: error sending request";
        assert!(hint(unreachable).starts_with("the endpoint cannot be reached"));
        let refused = "Error performing GET http://h/bank: 403 Forbidden: InvalidAccessKeyId";
        assert!(hint(refused).starts_with("the credentials were refused"));
        assert!(hint("Client error with status 403 Forbidden").starts_with("the credentials"));
        assert!(hint("status 500 after 1403 ms").starts_with("the object store refused"));
    }

    #[test]
    fn typed_refusals_are_credentials_whatever_their_text() {
        let url = Url::parse("s3://bank/demo").expect("url");
        let e = object_store::Error::PermissionDenied {
            path: "demo/almanac.toml".into(),
            source: "took 12.5 ms".into(),
        };
        assert!(explain(&url, &e).contains("the credentials were refused"));
    }
}

/// An object-store registry that opens the store of a URL the first time a
/// plan reads from it, configured from the environment like the lake's own.
///
/// A cluster's scheduler and executors use it: a plan sent to them names
/// `s3://bank/lake/instruments/` but carries no store, and the process that
/// reads it cannot know the buckets in advance.
#[derive(Debug, Default)]
pub struct StoresOnDemand {
    opened: datafusion::execution::object_store::DefaultObjectStoreRegistry,
}

impl datafusion::execution::object_store::ObjectStoreRegistry for StoresOnDemand {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.opened.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.opened.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.opened.get_store(url) {
            return Ok(store);
        }
        let store = object_store_for(url)?;
        self.opened.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}
