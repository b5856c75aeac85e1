//! Who may query: users with passwords (Basic auth, exchanged in the Flight
//! handshake for a bearer token) and long-lived service tokens (for
//! dashboards such as Grafana that send a fixed bearer token).
//!
//! Both come from a file or the environment, one `name:secret` entry each:
//! `ALMANAC_USERS="alice:s3cret,bob:sha256:5e88…"` (a password may be given
//! as the hex SHA-256 of it), `ALMANAC_TOKENS="grafana:7f3c…"`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use tonic::Status;

/// Base64 with or without `=` padding: the Go ADBC driver (arrow-go) sends
/// Basic credentials unpadded, pyarrow and JDBC padded.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The user name of requests on a server without authentication.
pub const ANONYMOUS: &str = "anonymous";

/// How long a token issued by the handshake stays valid.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Configured users and service tokens.
#[derive(Clone, Default)]
pub struct Credentials {
    /// User name → SHA-256 of the password.
    users: HashMap<String, [u8; 32]>,
    /// Service token → user name.
    tokens: HashMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even hashed.
        f.debug_struct("Credentials")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.tokens.is_empty()
    }

    /// Adds `name:password` or `name:sha256:<64 hex digits>` entries, one per
    /// line; a line starting with `#` is a comment. The password is the rest
    /// of the line, so it may hold `:`, `,` or `#`.
    pub fn add_users(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (name, secret) in entries(text, source)? {
            let hash = match secret.strip_prefix("sha256:") {
                Some(hex) => parse_sha256(hex).ok_or_else(|| {
                    format!("{source}: user '{name}': expected sha256: and 64 hex digits")
                })?,
                None => sha256(secret.as_bytes()),
            };
            self.users.insert(name, hash);
        }
        Ok(())
    }

    /// Adds `name:token` entries, one per line (the layout of users).
    pub fn add_tokens(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (name, token) in entries(text, source)? {
            if token.len() < 16 {
                return Err(format!(
                    "{source}: the token of '{name}' is shorter than 16 characters"
                ));
            }
            self.tokens.insert(token, name);
        }
        Ok(())
    }

    /// Reads users from a file.
    pub fn add_users_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the users file {}: {e}", path.display()))?;
        self.add_users(&text, &path.display().to_string())
    }

    /// Reads service tokens from a file.
    pub fn add_tokens_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tokens file {}: {e}", path.display()))?;
        self.add_tokens(&text, &path.display().to_string())
    }
}

fn entries(text: &str, source: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((name, secret)) if !name.trim().is_empty() && !secret.is_empty() => {
                out.push((name.trim().to_string(), secret.trim().to_string()))
            }
            _ => return Err(format!("{source}: entry {} is not name:secret", number + 1)),
        }
    }
    Ok(out)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Checks every request and issues session tokens.
pub struct Authenticator {
    credentials: Credentials,
    sessions: Mutex<HashMap<String, (String, Instant)>>,
}

impl Authenticator {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The handshake: checks Basic credentials and returns the user and a new bearer token.
    pub fn login(&self, metadata: &MetadataMap) -> Result<(String, String), Status> {
        let user =
            if self.credentials.is_empty() {
                ANONYMOUS.to_string()
            } else {
                match authorization(metadata)? {
                    Some(Authorization::Basic(user, password)) => {
                        self.check_password(&user, &password)?
                    }
                    Some(Authorization::Bearer(token)) => self.check_token(&token)?,
                    None => return Err(Status::unauthenticated(
                        "this server needs a user name and password (Basic auth) or a bearer token",
                    )),
                }
            };
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut sessions = self
            .sessions
            .lock()
            .map_err(|_| Status::internal("the session table is poisoned"))?;
        sessions.retain(|_, (_, expires)| *expires > now);
        sessions.insert(token.clone(), (user.clone(), now + SESSION_LIFETIME));
        Ok((user, token))
    }

    /// The user a request comes from, or `unauthenticated`.
    pub fn user(&self, metadata: &MetadataMap) -> Result<String, Status> {
        if self.credentials.is_empty() {
            return Ok(ANONYMOUS.to_string());
        }
        match authorization(metadata)? {
            Some(Authorization::Bearer(token)) => self.check_token(&token),
            Some(Authorization::Basic(user, password)) => self.check_password(&user, &password),
            None => Err(Status::unauthenticated(
                "no authorization header: log in (Basic auth handshake) or send a bearer token",
            )),
        }
    }

    fn check_password(&self, user: &str, password: &str) -> Result<String, Status> {
        let given = sha256(password.as_bytes());
        match self.credentials.users.get(user) {
            // Comparing digests keeps the time independent of where the passwords differ.
            Some(expected) if *expected == given => Ok(user.to_string()),
            _ => Err(Status::unauthenticated("wrong user name or password")),
        }
    }

    fn check_token(&self, token: &str) -> Result<String, Status> {
        if let Some(user) = self.credentials.tokens.get(token) {
            return Ok(user.clone());
        }
        let sessions = self
            .sessions
            .lock()
            .map_err(|_| Status::internal("the session table is poisoned"))?;
        match sessions.get(token) {
            Some((user, expires)) if *expires > Instant::now() => Ok(user.clone()),
            Some(_) => Err(Status::unauthenticated(
                "the token has expired: log in again",
            )),
            None => Err(Status::unauthenticated("unknown bearer token")),
        }
    }
}

enum Authorization {
    Basic(String, String),
    Bearer(String),
}

fn authorization(metadata: &MetadataMap) -> Result<Option<Authorization>, Status> {
    let Some(value) = metadata.get("authorization") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("the authorization header is not text"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Authorization::Bearer(rest.trim().to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASIC
            .decode(rest.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| Status::unauthenticated("the Basic credentials are not base64 text"))?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            Status::unauthenticated("the Basic credentials are not user:password")
        })?;
        return Ok(Some(Authorization::Basic(
            user.to_string(),
            password.to_string(),
        )));
    }
    Err(Status::unauthenticated(format!(
        "authorization scheme '{scheme}' is not supported (use Basic or Bearer)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("authorization", value.parse().expect("ascii header"));
        map
    }

    fn basic(user: &str, password: &str) -> MetadataMap {
        use base64::engine::general_purpose::STANDARD;
        metadata(&format!(
            "Basic {}",
            STANDARD.encode(format!("{user}:{password}"))
        ))
    }

    #[test]
    fn unpadded_basic_credentials_as_arrow_go_sends_them() {
        use base64::engine::general_purpose::STANDARD_NO_PAD;
        let auth = configured();
        // "alice:wonderland" is 16 bytes: padded base64 ends in "==".
        let header = format!("Basic {}", STANDARD_NO_PAD.encode("alice:wonderland"));
        assert!(!header.ends_with('='));
        assert_eq!(auth.user(&metadata(&header)).ok().as_deref(), Some("alice"));
    }

    fn configured() -> Authenticator {
        let mut credentials = Credentials::default();
        let hash: String = sha256(b"hunter2")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        credentials
            .add_users(
                &format!("alice:wonderland\n# comment\nbob:sha256:{hash}\n"),
                "test",
            )
            .expect("valid users");
        credentials
            .add_tokens("grafana:0123456789abcdef0123", "test")
            .expect("valid tokens");
        Authenticator::new(credentials)
    }

    #[test]
    fn passwords_plain_and_hashed() {
        let auth = configured();
        assert_eq!(
            auth.user(&basic("alice", "wonderland")).ok().as_deref(),
            Some("alice")
        );
        assert_eq!(
            auth.user(&basic("bob", "hunter2")).ok().as_deref(),
            Some("bob")
        );
        let wrong = auth.user(&basic("alice", "nope")).unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(auth.user(&basic("mallory", "wonderland")).is_err());
    }

    #[test]
    fn handshake_tokens_and_service_tokens() {
        let auth = configured();
        let (user, token) = auth.login(&basic("alice", "wonderland")).expect("login");
        assert_eq!(user, "alice");
        assert_eq!(
            auth.user(&metadata(&format!("Bearer {token}")))
                .ok()
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            auth.user(&metadata("Bearer 0123456789abcdef0123"))
                .ok()
                .as_deref(),
            Some("grafana")
        );
        assert!(auth.user(&metadata("Bearer forged")).is_err());
        assert!(auth.user(&MetadataMap::new()).is_err());
        assert!(auth.login(&basic("alice", "wrong")).is_err());
    }

    #[test]
    fn passwords_may_hold_separators() {
        let mut credentials = Credentials::default();
        credentials
            .add_users("carol:a,b#c:d\n", "users.txt")
            .expect("valid");
        let auth = Authenticator::new(credentials);
        assert_eq!(
            auth.user(&basic("carol", "a,b#c:d")).ok().as_deref(),
            Some("carol")
        );
    }

    #[test]
    fn open_server_is_anonymous() {
        let auth = Authenticator::new(Credentials::default());
        assert_eq!(
            auth.user(&MetadataMap::new()).ok().as_deref(),
            Some(ANONYMOUS)
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let mut credentials = Credentials::default();
        let e = credentials
            .add_users("alice:ok\njustaname\n", "users.txt")
            .unwrap_err();
        assert!(e.contains("users.txt") && e.contains("entry 2"), "{e}");
        let e = credentials.add_users("bob:sha256:abc", "env").unwrap_err();
        assert!(e.contains("bob"), "{e}");
        let e = credentials.add_tokens("svc:short", "env").unwrap_err();
        assert!(e.contains("svc"), "{e}");
    }
}
