//! The three application keys: where they come from, how they are checked, and the
//! `DATA_DIR/keys.env` file generated on first run. No key value is ever logged.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};

use super::FieldCipher;
use super::chain::AuditKey;
use super::token::random_bytes;

pub const FERNET_KEYS: &str = "FERNET_KEYS";
pub const BLIND_INDEX_KEY: &str = "BLIND_INDEX_KEY";
pub const SECRET_KEY: &str = "SECRET_KEY";
const KEY_NAMES: [&str; 3] = [FERNET_KEYS, BLIND_INDEX_KEY, SECRET_KEY];

/// A secret value as given, with the name of the variable (or file variable) it came from.
pub type Sourced = Option<(SecretString, String)>;

/// Keys as found in the environment, not yet checked.
#[derive(Clone, Debug, Default)]
pub struct KeySources {
    pub fernet_keys: Sourced,
    pub blind_index_key: Sourced,
    pub secret_key: Sourced,
}

/// The checked keys the application runs with.
#[derive(Clone)]
pub struct Keys {
    pub cipher: FieldCipher,
    pub blind_index_key: [u8; 32],
    pub secret_key: [u8; 64],
    /// The audit chain's HMAC key, derived from `blind_index_key` (see `crypto::chain`).
    pub audit: AuditKey,
}

impl Keys {
    /// The server's keys as a book's: what books not yet moved to their owner's keys use.
    pub fn book(&self) -> super::user_keys::BookKeys {
        super::user_keys::BookKeys {
            cipher: self.cipher.clone(),
            blind_index_key: self.blind_index_key,
        }
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// What happened while loading, for one log line at start-up.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// A fresh set of keys as `NAME=value` pairs (for `keys generate` and the first run).
pub fn generate_set() -> [(&'static str, String); 3] {
    [
        (FERNET_KEYS, URL_SAFE.encode(random_bytes(32))),
        (BLIND_INDEX_KEY, STANDARD.encode(random_bytes(32))),
        (SECRET_KEY, STANDARD.encode(random_bytes(64))),
    ]
}

/// Resolves each key from the environment, then `DATA_DIR/keys.env`; keys still missing are
/// generated and written to that file with mode 0600. Keys given in the environment are
/// never copied to disk.
pub fn load_or_generate(
    sources: &KeySources,
    data_dir: &Path,
) -> anyhow::Result<(Keys, KeyOrigin)> {
    let path = data_dir.join("keys.env");
    let mut from_file = if path.exists() {
        read_keys_file(&path)?
    } else {
        HashMap::new()
    };
    let given = [
        &sources.fernet_keys,
        &sources.blind_index_key,
        &sources.secret_key,
    ];

    let mut values: Vec<(String, String)> = Vec::new(); // (value, source) per key
    let mut generated = false;
    let fresh = generate_set();
    for (i, name) in KEY_NAMES.iter().enumerate() {
        if let Some((value, source)) = given[i] {
            values.push((value.expose_secret().to_string(), source.clone()));
        } else if let Some(value) = from_file.get(*name) {
            values.push((value.clone(), format!("{name} (in {})", path.display())));
        } else {
            from_file.insert((*name).to_string(), fresh[i].1.clone());
            values.push((fresh[i].1.clone(), name.to_string()));
            generated = true;
        }
    }
    let keys = parse_keys(
        (&values[0].0, &values[0].1),
        (&values[1].0, &values[1].1),
        (&values[2].0, &values[2].1),
    )?;
    let origin = if generated {
        write_keys_file(&path, &from_file)?;
        KeyOrigin::Generated(path)
    } else if given.iter().all(|g| g.is_some()) {
        KeyOrigin::Environment
    } else {
        KeyOrigin::File(path)
    };
    Ok((keys, origin))
}

/// The `FERNET_KEYS` list in `DATA_DIR/keys.env`, if the file has one.
pub fn fernet_keys_in_file(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = data_dir.join("keys.env");
    if !path.exists() {
        return Ok(None);
    }
    Ok(read_keys_file(&path)?.remove(FERNET_KEYS))
}

/// Puts a fresh Fernet key in front of the list in `DATA_DIR/keys.env` (the start of a
/// rotation). Returns the new key's fingerprint.
pub fn add_primary_fernet_key(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("keys.env");
    let mut values = read_keys_file(&path)
        .with_context(|| format!("{} holds no keys to rotate", path.display()))?;
    let current = values
        .get(FERNET_KEYS)
        .cloned()
        .with_context(|| format!("{} has no {FERNET_KEYS}", path.display()))?;
    let fresh = URL_SAFE.encode(random_bytes(32));
    values.insert(FERNET_KEYS.to_string(), format!("{fresh},{current}"));
    write_keys_file(&path, &values)?;
    Ok(super::cipher::fingerprint(&fresh))
}

/// Checks the three values; an error names the variable, never the value.
pub fn parse_keys(
    fernet: (&str, &str),
    blind: (&str, &str),
    secret: (&str, &str),
) -> anyhow::Result<Keys> {
    let fernet_list: Vec<&str> = fernet
        .0
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    let cipher = FieldCipher::from_keys(&fernet_list).with_context(|| {
        format!(
            "{} is malformed: expected one or more comma-separated Fernet keys \
             (32 bytes in url-safe base64 each); `contact-vault keys generate` prints valid ones",
            fernet.1
        )
    })?;
    let blind_index_key = decode_exact::<32>(blind.0).with_context(|| {
        format!(
            "{} is malformed: expected 32 random bytes in base64",
            blind.1
        )
    })?;
    let secret_key = decode_exact::<64>(secret.0).with_context(|| {
        format!(
            "{} is malformed: expected 64 random bytes in base64",
            secret.1
        )
    })?;
    Ok(Keys {
        cipher,
        audit: AuditKey::derive(&blind_index_key),
        blind_index_key,
        secret_key,
    })
}

fn decode_exact<const N: usize>(value: &str) -> Option<[u8; N]> {
    let value = value.trim();
    let bytes = STANDARD
        .decode(value)
        .or_else(|_| URL_SAFE.decode(value))
        .or_else(|_| URL_SAFE_NO_PAD.decode(value))
        .ok()?;
    bytes.try_into().ok()
}

fn read_keys_file(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut map = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            bail!("{} line {}: expected NAME=value", path.display(), n + 1);
        };
        map.insert(name.trim().to_string(), value.trim().to_string());
    }
    Ok(map)
}

fn write_keys_file(path: &Path, values: &HashMap<String, String>) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::store::private::create_dir(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut text = String::from(
        "# Contact Vault keys, generated on first run. Keep this file secret (mode 0600)\n\
         # and back it up apart from the database: without it the data cannot be read.\n",
    );
    for name in KEY_NAMES {
        if let Some(v) = values.get(name) {
            text.push_str(&format!("{name}={v}\n"));
        }
    }
    let tmp = path.with_extension("env.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sourced(v: &str, name: &str) -> Sourced {
        Some((SecretString::from(v.to_string()), name.to_string()))
    }

    #[test]
    fn first_run_generates_a_private_file_and_later_runs_reuse_it() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = load_or_generate(&KeySources::default(), dir.path()).unwrap();
        assert!(matches!(origin, KeyOrigin::Generated(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys.env"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, origin) = load_or_generate(&KeySources::default(), dir.path()).unwrap();
        assert!(matches!(origin, KeyOrigin::File(_)));
        assert_eq!(first.blind_index_key, second.blind_index_key);
        let token = first.cipher.encrypt("x");
        assert_eq!(second.cipher.decrypt(&token).unwrap(), "x");
    }

    #[test]
    fn environment_keys_are_not_written_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let set = generate_set();
        let sources = KeySources {
            fernet_keys: sourced(&set[0].1, FERNET_KEYS),
            blind_index_key: sourced(&set[1].1, BLIND_INDEX_KEY),
            secret_key: sourced(&set[2].1, SECRET_KEY),
        };
        let (_, origin) = load_or_generate(&sources, dir.path()).unwrap();
        assert_eq!(origin, KeyOrigin::Environment);
        assert!(!dir.path().join("keys.env").exists());
    }

    #[test]
    fn malformed_key_names_the_variable_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let sources = KeySources {
            blind_index_key: sourced("c2hvcnQ=", "BLIND_INDEX_KEY_FILE"),
            ..KeySources::default()
        };
        let err = load_or_generate(&sources, dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("BLIND_INDEX_KEY_FILE"), "{err}");
        assert!(!err.contains("c2hvcnQ="), "{err}");

        let sources = KeySources {
            fernet_keys: sourced("abc,def", FERNET_KEYS),
            ..KeySources::default()
        };
        let err = load_or_generate(&sources, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("FERNET_KEYS") && !err.contains("abc,def"),
            "{err}"
        );
    }

    #[test]
    fn several_fernet_keys_first_encrypts() {
        let set = generate_set();
        let other = generate_set();
        let both = format!("{},{}", other[0].1, set[0].1);
        let keys = parse_keys((&both, "F"), (&set[1].1, "B"), (&set[2].1, "S")).unwrap();
        assert_eq!(keys.cipher.fingerprints().len(), 2);
        let old = parse_keys((&set[0].1, "F"), (&set[1].1, "B"), (&set[2].1, "S")).unwrap();
        let token = old.cipher.encrypt("legacy");
        assert_eq!(keys.cipher.decrypt(&token).unwrap(), "legacy");
    }
}
