//! AWS profiles for `s3://` lakes: when the environment holds no access key,
//! the keys (and region) of the profile `$AWS_PROFILE` (else `default`) are read
//! from the shared files `~/.aws/credentials` and `~/.aws/config` (or
//! `$AWS_SHARED_CREDENTIALS_FILE`, `$AWS_CONFIG_FILE`), as the AWS CLI does.
//! object_store reads only the environment. Profiles that get keys another way
//! (SSO, `credential_process`, `role_arn`) are not followed: a clear error says
//! to export the keys instead.

use std::collections::HashMap;
use std::path::PathBuf;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

/// One profile's settings, merged from both files (credentials first).
type Settings = HashMap<String, String>;

/// `builder` with the profile's keys and region where the environment gave none.
pub fn with_profile(builder: AmazonS3Builder) -> Result<AmazonS3Builder, String> {
    if builder
        .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
        .is_some()
    {
        return Ok(builder);
    }
    let chosen = std::env::var("AWS_PROFILE").ok();
    let name = chosen.clone().unwrap_or_else(|| "default".into());
    let credentials = read(env_or_home("AWS_SHARED_CREDENTIALS_FILE", "credentials"));
    let config = read(env_or_home("AWS_CONFIG_FILE", "config"));
    let Some(settings) = profile(&credentials, &config, &name) else {
        return match chosen {
            Some(_) => Err(format!(
                "AWS_PROFILE={name}: no such profile in ~/.aws/credentials or ~/.aws/config"
            )),
            // No profile at all: object_store goes on to web identity, ECS or instance credentials.
            None => Ok(builder),
        };
    };
    let (Some(key), Some(secret)) = (
        settings.get("aws_access_key_id"),
        settings.get("aws_secret_access_key"),
    ) else {
        return match chosen {
            Some(_) => Err(format!(
                "AWS profile '{name}' has no aws_access_key_id / aws_secret_access_key (SSO, \
                 credential_process and role profiles are not followed): export its keys with \
                 eval \"$(aws configure export-credentials --profile {name} --format env)\""
            )),
            None => Ok(builder),
        };
    };
    let mut builder = builder
        .with_access_key_id(key)
        .with_secret_access_key(secret);
    if let Some(token) = settings.get("aws_session_token") {
        builder = builder.with_token(token);
    }
    if builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .is_none()
    {
        if let Some(region) = settings.get("region") {
            builder = builder.with_region(region);
        }
    }
    Ok(builder)
}

fn env_or_home(variable: &str, file: &str) -> Option<PathBuf> {
    std::env::var_os(variable).map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".aws").join(file))
    })
}

fn read(path: Option<PathBuf>) -> String {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

/// The profile `name` from the credentials file (`[name]`) and the config file
/// (`[profile name]`, or `[default]`); `None` when neither has it.
fn profile(credentials: &str, config: &str, name: &str) -> Option<Settings> {
    let config_section = if name == "default" {
        "default".to_string()
    } else {
        format!("profile {name}")
    };
    let from_credentials = section(credentials, name);
    let from_config = section(config, &config_section);
    if from_credentials.is_none() && from_config.is_none() {
        return None;
    }
    let mut settings = from_config.unwrap_or_default();
    settings.extend(from_credentials.unwrap_or_default());
    Some(settings)
}

/// The `key = value` lines of the INI section `[wanted]`.
fn section(text: &str, wanted: &str) -> Option<Settings> {
    let mut found: Option<Settings> = None;
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == wanted;
            if inside {
                found.get_or_insert_with(Settings::new);
            }
            continue;
        }
        if let (true, Some((key, value))) = (inside, line.split_once('=')) {
            if let Some(settings) = found.as_mut() {
                settings.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDENTIALS: &str = "
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = secret/default

[treasury]
# the ALM team's key
aws_access_key_id=AKIATREASURY
aws_secret_access_key=secret=with=equals
aws_session_token = token
";
    const CONFIG: &str = "
[default]
region = us-east-1
[profile treasury]
region = eu-west-1
";

    #[test]
    fn a_profile_merges_both_files() {
        let treasury = profile(CREDENTIALS, CONFIG, "treasury").expect("treasury");
        assert_eq!(treasury["aws_access_key_id"], "AKIATREASURY");
        assert_eq!(treasury["aws_secret_access_key"], "secret=with=equals");
        assert_eq!(treasury["aws_session_token"], "token");
        assert_eq!(treasury["region"], "eu-west-1");
        let default = profile(CREDENTIALS, CONFIG, "default").expect("default");
        assert_eq!(default["aws_access_key_id"], "AKIADEFAULT");
        assert_eq!(default["region"], "us-east-1");
        assert!(profile(CREDENTIALS, CONFIG, "nobody").is_none());
        // "[profile x]" belongs to the config file; in the credentials file it is not "x".
        assert!(profile("[profile x]\naws_access_key_id = A", "", "x").is_none());
    }
}
