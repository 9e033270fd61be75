//! As whom a remote is signed in. Asked once, with the fresh token, when a sign-in finishes,
//! and kept as non-secret metadata in the helper's own `rclone-accounts.json` (rclone.conf
//! stays rclone's: no keys rclone does not know). Listing remotes reads that file; nothing
//! asks Google or Microsoft again.
//!
//! What each provider can say with the scopes rclone asks for:
//! - Google: Drive's `about` (`fields=user`), covered by the `drive` scope. The OpenID
//!   userinfo endpoint would need the `email` scope, which rclone does not request.
//! - Microsoft: the drive's owner in `GET /me/drive` (the call that finds the drive anyway).
//!   `GET /me` needs `User.Read`, which rclone does not request. Work and school drives name
//!   the owner's email; personal ones only the display name.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Kind;
use crate::engine::store::{JsonStore, StoreError};

pub const ACCOUNTS_FILE: &str = "rclone-accounts.json";

/// The accounts file in the helper's data folder: `{"drive/personal": "ana@example.com"}`.
#[derive(Debug, Clone)]
pub struct Accounts(JsonStore);

impl Accounts {
    pub fn in_dir(data_dir: &Path) -> Self {
        Self(JsonStore::at(data_dir.join(ACCOUNTS_FILE)))
    }

    /// The known accounts of `kind`'s remotes, by remote name.
    pub fn of(&self, kind: Kind) -> Result<HashMap<String, String>, StoreError> {
        let prefix = format!("{}/", kind.backend());
        Ok(self
            .0
            .read()?
            .into_iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(&prefix)?.to_owned();
                Some((name, value.as_str()?.to_owned()))
            })
            .collect())
    }

    /// Records (or, with `None`, forgets) the account of one remote.
    pub fn set(&self, kind: Kind, name: &str, account: Option<&str>) -> Result<(), StoreError> {
        let key = format!("{}/{name}", kind.backend());
        self.0.update(|entries| match account {
            Some(a) => {
                entries.insert(key, Value::String(a.to_owned()));
            }
            None => {
                entries.remove(&key);
            }
        })
    }
}

/// The `access_token` of the token JSON rclone printed.
pub fn access_token(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
    }
    serde_json::from_str::<Token>(token)
        .ok()
        .map(|t| t.access_token)
}

/// Google Drive's `about` answer → the account's email (or name).
pub fn from_drive_about(body: &Value) -> Option<String> {
    let user = body.get("user")?;
    named(user, "emailAddress").or_else(|| named(user, "displayName"))
}

/// Microsoft Graph's drive → its owner's email (or name).
pub fn from_graph_drive(body: &Value) -> Option<String> {
    let user = body.get("owner")?.get("user")?;
    named(user, "email").or_else(|| named(user, "displayName"))
}

fn named(user: &Value, field: &str) -> Option<String> {
    let text = user.get(field)?.as_str()?.trim();
    // A name is shown on the card as text; keep it one short line.
    (!text.is_empty()).then(|| text.chars().filter(|c| !c.is_control()).take(200).collect())
}

/// `GET {drive_api}/about?fields=user(displayName,emailAddress)` with the fresh token.
pub async fn google(http: &reqwest::Client, drive_api: &str, access: &str) -> Option<String> {
    let response = http
        .get(format!(
            "{drive_api}/about?fields=user(displayName%2CemailAddress)"
        ))
        .bearer_auth(access)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    from_drive_about(&response.json().await.ok()?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_account_from_each_providers_answer() {
        let about = json!({"user": {"kind": "drive#user", "displayName": "Ana", "emailAddress": "ana@example.com"}});
        assert_eq!(from_drive_about(&about).as_deref(), Some("ana@example.com"));
        assert_eq!(
            from_drive_about(&json!({"user": {"displayName": "Ana"}})).as_deref(),
            Some("Ana")
        );
        assert_eq!(from_drive_about(&json!({"kind": "drive#about"})), None);
        let business = json!({"id": "b!1", "driveType": "business",
            "owner": {"user": {"email": "ana@contoso.com", "displayName": "Ana"}}});
        assert_eq!(
            from_graph_drive(&business).as_deref(),
            Some("ana@contoso.com")
        );
        let personal = json!({"owner": {"user": {"displayName": " Ana\nB ", "id": "1"}}});
        assert_eq!(from_graph_drive(&personal).as_deref(), Some("AnaB"));
        assert_eq!(
            from_graph_drive(&json!({"owner": {"user": {"email": ""}}})),
            None
        );
        assert_eq!(
            access_token(r#"{"access_token":"ya29.x","expiry":"…"}"#).as_deref(),
            Some("ya29.x")
        );
        assert_eq!(access_token("not json"), None);
    }

    #[test]
    fn accounts_are_kept_per_backend_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = Accounts::in_dir(dir.path());
        assert!(accounts.of(Kind::Gdrive).unwrap().is_empty());
        accounts
            .set(Kind::Gdrive, "personal", Some("ana@example.com"))
            .unwrap();
        accounts
            .set(Kind::Onedrive, "personal", Some("Ana"))
            .unwrap();
        let drive = accounts.of(Kind::Gdrive).unwrap();
        assert_eq!(drive.len(), 1);
        assert_eq!(drive["personal"], "ana@example.com");
        assert_eq!(accounts.of(Kind::Onedrive).unwrap()["personal"], "Ana");
        accounts.set(Kind::Gdrive, "personal", None).unwrap();
        assert!(accounts.of(Kind::Gdrive).unwrap().is_empty());
        assert_eq!(accounts.of(Kind::Onedrive).unwrap().len(), 1);
    }
}
