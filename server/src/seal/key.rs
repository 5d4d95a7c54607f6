//! The seal key: an Ed25519 key pair kept in two files outside the database. The secret
//! file holds the 32-byte seed as hex on one line (mode 0600); the public file, the same
//! path with `.pub` added, holds the public key as hex.
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

pub struct SealKey {
    signing: SigningKey,
}

impl SealKey {
    /// Generates a key pair and writes both files; refuses to overwrite either. Returns the
    /// public file's path.
    pub fn generate(secret_path: &Path) -> anyhow::Result<PathBuf> {
        let public_path = public_path(secret_path);
        let signing = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        write_new(secret_path, 0o600, &hex::encode(signing.to_bytes()))?;
        write_new(
            &public_path,
            0o644,
            &hex::encode(signing.verifying_key().to_bytes()),
        )?;
        Ok(public_path)
    }

    pub fn load(path: &Path) -> anyhow::Result<SealKey> {
        let bytes: [u8; 32] = read_hex(path, "seal key")?;
        Ok(SealKey {
            signing: SigningKey::from_bytes(&bytes),
        })
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().to_bytes())
    }

    /// The signature of `message`, hex.
    pub fn sign(&self, message: &str) -> String {
        hex::encode(self.signing.sign(message.as_bytes()).to_bytes())
    }
}

/// A public key file written by [`SealKey::generate`].
pub fn load_public(path: &Path) -> anyhow::Result<VerifyingKey> {
    let bytes: [u8; 32] = read_hex(path, "public key")?;
    VerifyingKey::from_bytes(&bytes)
        .with_context(|| format!("{}: not an Ed25519 public key", path.display()))
}

/// Whether `signature` (hex) is `key`'s signature of `message`.
pub fn verifies(key: &VerifyingKey, message: &str, signature: &str) -> bool {
    let Some(bytes) = hex::decode(signature)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
    else {
        return false;
    };
    key.verify(message.as_bytes(), &Signature::from_bytes(&bytes))
        .is_ok()
}

pub fn public_path(secret_path: &Path) -> PathBuf {
    let mut name = secret_path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn read_hex<const N: usize>(path: &Path, what: &str) -> anyhow::Result<[u8; N]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .with_context(|| {
            format!(
                "{}: a {what} file holds {} hex digits on one line (made by `server seal-key generate`)",
                path.display(),
                N * 2
            )
        })
}

fn write_new(path: &Path, mode: u32, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    writeln!(file, "{text}")?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let dir = std::env::temp_dir().join(format!("seal-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.key"), dir.join("b.key"));
        let a_pub = SealKey::generate(&a).unwrap();
        let b_pub = SealKey::generate(&b).unwrap();
        assert!(
            SealKey::generate(&a).is_err(),
            "an existing key is never overwritten"
        );
        let signature = SealKey::load(&a).unwrap().sign("hello");
        assert!(verifies(&load_public(&a_pub).unwrap(), "hello", &signature));
        assert!(!verifies(
            &load_public(&a_pub).unwrap(),
            "hellO",
            &signature
        ));
        assert!(!verifies(
            &load_public(&b_pub).unwrap(),
            "hello",
            &signature
        ));
        assert!(!verifies(&load_public(&a_pub).unwrap(), "hello", "zz"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
