//! Per-provider OAuth clients and OneDrive drive settings.
//!
//! Google retired rclone's shared client id in 2026, so users bring their own. Each value
//! comes from the environment (`PATCHBAY_GDRIVE_CLIENT_ID`, …) or from `connectors.json` in
//! the data folder (`{"gdrive": {"client_id": …, "client_secret": …}, "onedrive": {…,
//! "drive_id": …, "drive_type": …}}`), the environment winning. An `RCLONE_*` variable
//! already in the helper's environment reaches rclone unchanged and wins over both.

use std::path::Path;

use patchbay_proto::Secret;
use serde_json::Value;

use super::Kind;
use crate::engine::fsutil;

pub const SETTINGS_FILE: &str = "connectors.json";

#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// OneDrive only: when both are set, no Microsoft Graph call is needed.
    pub drive_id: Option<String>,
    pub drive_type: Option<String>,
}

impl ProviderSettings {
    /// Reads the settings for `kind` now (so edits apply to the next sign-in).
    pub fn load(kind: Kind, data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Self {
        // It may hold client secrets: tightened to 0600 as it is read.
        let file: Value = fsutil::read_private(&data_dir.join(SETTINGS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let section = &file[kind.connector().as_str()];
        let prefix = match kind {
            Kind::Gdrive => "PATCHBAY_GDRIVE_",
            Kind::Onedrive => "PATCHBAY_ONEDRIVE_",
        };
        let get = |key: &str| {
            env(&format!("{prefix}{}", key.to_ascii_uppercase()))
                .or_else(|| section[key].as_str().map(str::to_owned))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            client_id: get("client_id"),
            client_secret: get("client_secret").map(Secret::new),
            drive_id: get("drive_id"),
            drive_type: get("drive_type"),
        }
    }

    /// The client rclone will use: its own `RCLONE_<BACKEND>_CLIENT_*` environment first.
    pub fn effective_client(
        &self,
        kind: Kind,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Option<String>, Option<Secret>) {
        let id = env(&format!("{}CLIENT_ID", kind.env_prefix())).or(self.client_id.clone());
        let secret = env(&format!("{}CLIENT_SECRET", kind.env_prefix()))
            .map(Secret::new)
            .or(self.client_secret.clone());
        (id, secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_wins_over_file_and_rclone_env_wins_over_both() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SETTINGS_FILE),
            r#"{"gdrive": {"client_id": "file-id", "client_secret": "file-secret"},
                "onedrive": {"drive_id": "d1", "drive_type": "personal"}}"#,
        )
        .unwrap();
        let env: HashMap<&str, &str> = HashMap::from([("PATCHBAY_GDRIVE_CLIENT_ID", "env-id")]);
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        let s = ProviderSettings::load(Kind::Gdrive, dir.path(), lookup);
        assert_eq!(s.client_id.as_deref(), Some("env-id"));
        assert!(s.client_secret.unwrap().matches("file-secret"));
        let o = ProviderSettings::load(Kind::Onedrive, dir.path(), lookup);
        assert_eq!(
            (o.drive_id.as_deref(), o.drive_type.as_deref()),
            (Some("d1"), Some("personal"))
        );

        let s = ProviderSettings::load(Kind::Gdrive, dir.path(), lookup);
        let rclone_env = |k: &str| (k == "RCLONE_DRIVE_CLIENT_ID").then(|| "rclone-id".to_owned());
        assert_eq!(
            s.effective_client(Kind::Gdrive, rclone_env).0.as_deref(),
            Some("rclone-id")
        );
    }
}
