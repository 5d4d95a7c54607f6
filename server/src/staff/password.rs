//! Staff passwords: a length policy, and argon2id hashing off the async threads.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`): the parameters
//! travel with each hash, so raising them later only affects new hashes. Hashing takes
//! tens of milliseconds of CPU on purpose, so it runs on the blocking pool where it cannot
//! stall the request handlers sharing a runtime thread.
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shorter passwords are refused: length is what makes a password hard to guess.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer input is refused before hashing, so nobody can make the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A password that satisfies the policy. Its `Debug` never shows the text.
#[derive(Clone)]
pub struct Password(String);

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_CHARS`].
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
}

impl Password {
    pub fn parse(text: String) -> Result<Password, PasswordError> {
        let chars = text.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > MAX_PASSWORD_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Password(text))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Hashes a new password with argon2id's default (OWASP-recommended) parameters and a
/// fresh random salt.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let text = password.0.clone();
    tokio::task::spawn_blocking(move || hash_blocking(&text)).await?
}

/// Whether `candidate` matches `phc`. A hash that does not parse counts as a mismatch (and
/// is logged), so a damaged row locks its user out rather than letting anyone in.
pub async fn verify(candidate: &str, phc: &str) -> anyhow::Result<bool> {
    let (candidate, phc) = (candidate.to_owned(), phc.to_owned());
    Ok(tokio::task::spawn_blocking(move || verify_blocking(&candidate, &phc)).await?)
}

/// Spends the same time as verifying a real password, for an unknown or disabled user,
/// so the response time does not tell which usernames exist.
pub async fn verify_dummy(candidate: &str) -> anyhow::Result<()> {
    let candidate = candidate.to_owned();
    tokio::task::spawn_blocking(move || {
        verify_blocking(&candidate, dummy_hash());
    })
    .await?;
    Ok(())
}

fn hash_blocking(text: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(text.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(candidate: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "a stored password hash does not parse");
            false
        }
    }
}

/// How many characters a generated password has.
pub const GENERATED_PASSWORD_CHARS: usize = 20;
/// No letters or digits that read alike (0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random password of [`GENERATED_PASSWORD_CHARS`] characters (about 117 bits).
pub fn generate_password() -> String {
    use rand::seq::SliceRandom;
    let mut rng = rand::thread_rng();
    (0..GENERATED_PASSWORD_CHARS)
        .map(|_| {
            char::from(
                *PASSWORD_ALPHABET
                    .choose(&mut rng)
                    .expect("non-empty alphabet"),
            )
        })
        .collect()
}

/// A hash of a random password nobody knows, made once per process with the same
/// parameters as real hashes.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(&generate_password()).expect("hashing a generated password cannot fail")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let one = generate_password();
        assert_eq!(one.chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(one.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert_ne!(one, generate_password());
    }

    #[test]
    fn the_policy_counts_characters_not_bytes() {
        assert_eq!(
            Password::parse("short".to_owned()).unwrap_err(),
            PasswordError::TooShort
        );
        assert!(Password::parse("é".repeat(12)).is_ok());
        assert_eq!(
            Password::parse("x".repeat(257)).unwrap_err(),
            PasswordError::TooLong
        );
        assert_eq!(
            format!(
                "{:?}",
                Password::parse("a very secret one".to_owned()).unwrap()
            ),
            "Password(…)"
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse battery".to_owned()).unwrap();
        let phc = hash(&password).await.unwrap();

        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse battery", &phc).await.unwrap());
        assert!(!verify("correct horse battery!", &phc).await.unwrap());
        assert!(!verify("correct horse battery", "not a hash").await.unwrap());
        assert_ne!(
            phc,
            hash(&password).await.unwrap(),
            "every hash has its own salt"
        );
    }
}
