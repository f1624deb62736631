//! Amazon Resource Names, parsed once and one way: the SNS topics and the Secrets Manager
//! secrets the configuration names.

use std::ops::Deref;

/// An ARN as written, and the region it names: what every AWS client needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    arn: String,
    region: String,
}

impl Arn {
    /// The full ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The resource's region; the client that calls it must use it.
    pub fn region(&self) -> &str {
        &self.region
    }
}

/// `arn:<partition>:<service>:<region>:<account-id>:<resource>`, every part non-empty (the
/// resource may itself hold colons): the ARN and its resource, or `None`.
fn parse<'a>(arn: &'a str, service: &str) -> Option<(Arn, &'a str)> {
    let mut parts = arn.splitn(6, ':');
    let mut next = || parts.next().filter(|part| !part.is_empty());
    let (prefix, _partition, found) = (next()?, next()?, next()?);
    let (region, _account, resource) = (next()?, next()?, next()?);
    let arn = Arn {
        arn: arn.to_owned(),
        region: region.to_owned(),
    };
    (prefix == "arn" && found == service).then_some((arn, resource))
}

/// A parsed SNS topic ARN: `arn:<partition>:sns:<region>:<account>:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    arn: Arn,
    fifo: bool,
}

impl TopicArn {
    /// Parses and checks an SNS topic ARN; the error says what it should look like.
    pub fn parse(arn: &str) -> Result<Self, &'static str> {
        let (arn, name) = parse(arn, "sns")
            .filter(|(_, name)| !name.contains(':'))
            .ok_or("expected arn:<partition>:sns:<region>:<account-id>:<topic-name>")?;
        #[expect(
            clippy::case_sensitive_file_extension_comparisons,
            reason = "SNS names FIFO topics with exactly the lower-case suffix .fifo"
        )]
        let fifo = name.ends_with(".fifo");
        Ok(Self { arn, fifo })
    }

    /// Whether the topic is FIFO (its name ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }
}

impl Deref for TopicArn {
    type Target = Arn;

    fn deref(&self) -> &Arn {
        &self.arn
    }
}

/// A parsed Secrets Manager secret ARN:
/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretArn(Arn);

impl SecretArn {
    /// Parses and checks a secret's ARN; the error says what it should look like.
    pub fn parse(arn: &str) -> Result<Self, &'static str> {
        let is_secret = |resource: &str| {
            resource
                .strip_prefix("secret:")
                .is_some_and(|name| !name.is_empty() && !name.contains(':'))
        };
        let (arn, _) = parse(arn, "secretsmanager")
            .filter(|(_, resource)| is_secret(resource))
            .ok_or("expected arn:<partition>:secretsmanager:<region>:<account-id>:secret:<name>")?;
        Ok(Self(arn))
    }
}

impl Deref for SecretArn {
    type Target = Arn;

    fn deref(&self) -> &Arn {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_topic_arn_its_region_and_whether_it_is_fifo() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:qase-defects";
        let topic = TopicArn::parse(arn).unwrap();
        assert_eq!(
            (topic.as_str(), topic.region(), topic.is_fifo()),
            (arn, "eu-west-1", false)
        );
        let fifo = TopicArn::parse("arn:aws-cn:sns:cn-north-1:1:q.fifo").unwrap();
        assert!(fifo.is_fifo());
        for bad in [
            "qase-defects",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:eu-west-1::t",
            "arn::sns:eu-west-1:1:t",
            "arn:aws:sns:eu-west-1:123456789012",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:t:extra",
        ] {
            assert!(TopicArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_a_secret_arn_and_its_region() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:qase-AbCdEf";
        let secret = SecretArn::parse(arn).unwrap();
        assert_eq!((secret.as_str(), secret.region()), (arn, "eu-west-1"));
        for bad in [
            "arn:aws:ssm:eu-west-1:1:parameter/x",
            "arn:aws:secretsmanager:eu-west-1:1:secret:",
            "arn:aws:secretsmanager:eu-west-1:1:key:x",
            "arn:aws:secretsmanager::1:secret:x",
            "arn:aws:secretsmanager:eu-west-1:1:secret:x:y",
            "arn:aws:sns:eu-west-1:1:secret:x",
        ] {
            assert!(SecretArn::parse(bad).is_err(), "{bad}");
        }
    }
}
