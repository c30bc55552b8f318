//! Policies changed while the server runs. The config file sets every policy; an IT
//! administrator may set the keys of `carepost_config::EDITABLE` over it from the console, the
//! API or the CLI. The settings live in the store, so every node reads the same: each applies
//! them at start and again every half minute, and the node that made a change at once.
//! A change is checked by the same rules as the file and audited with each key's old and new
//! value; setting a key to `null` gives it back to the file.

use crate::authz::Permission;
use crate::{Actor, Directory, IdentityError};
use carepost_audit::action;
use carepost_config::{Config, EDITABLE, FieldKind, SECTIONS};
use carepost_store::{AuditRepo, DirectoryRepo, PolicyRepo, PolicySettingsRow, Tx};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::{Arc, RwLock};

/// The file's config and the one in force.
#[derive(Debug)]
pub(crate) struct LiveConfig {
    file: Arc<Config>,
    now: RwLock<Arc<Config>>,
    /// Held from reading the store to putting its result in force, so that a slower reload
    /// never puts back an older state over a newer one.
    reloading: tokio::sync::Mutex<()>,
}

impl LiveConfig {
    pub(crate) fn new(file: Arc<Config>) -> Self {
        LiveConfig {
            now: RwLock::new(file.clone()),
            file,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn now(&self) -> Arc<Config> {
        // A panic while holding the lock leaves a whole config behind: take it.
        self.now
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, c: Config) {
        *self
            .now
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(c);
    }
}

/// One key of a section as the policies page shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyFieldView {
    pub key: &'static str,
    pub kind: FieldKind,
    pub about: &'static str,
    /// In force now.
    pub value: Value,
    /// What the config file says.
    pub file_value: Value,
    /// Set here, over the file.
    pub set_here: bool,
}

/// A section with its keys, and who last changed it here.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicySection {
    pub section: &'static str,
    pub fields: Vec<PolicyFieldView>,
    pub changed_at: Option<String>,
    pub changed_by: Option<String>,
    /// Why the values set here are not in force (the config file changed under them, so the
    /// file's values hold), if they are not.
    pub not_in_force: Option<String>,
}

fn settings_of(row: &PolicySettingsRow) -> Map<String, Value> {
    match serde_json::from_str(&row.settings) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The file's config with every section's settings over it. A section whose settings no
/// longer pass (the file changed under them) keeps the file's values, and says so.
fn apply(file: &Config, rows: &[PolicySettingsRow]) -> Config {
    let mut c = file.clone();
    for row in rows {
        match c.with_policy(&row.section, &settings_of(row)) {
            Ok(n) => c = n,
            Err(e) => tracing::warn!(
                section = %row.section,
                problems = %e.join("; "),
                "policy settings made at run time no longer pass; the config file's values hold"
            ),
        }
    }
    c
}

impl Directory {
    /// Reads the policies set at run time and puts them in force.
    pub async fn reload_policies(&self) -> Result<(), IdentityError> {
        let _one_at_a_time = self.live.reloading.lock().await;
        let rows = self.store.read().await?.list_policy_settings().await?;
        self.live.set(apply(&self.live.file, &rows));
        Ok(())
    }

    /// Every section with its keys: in force, from the file, and set here (and by whom); for
    /// staff with a role.
    pub async fn policy_sections(
        &self,
        actor: &Actor,
    ) -> Result<Vec<PolicySection>, IdentityError> {
        if actor.roles.is_empty() {
            self.require(actor, Permission::ReadDirectory, "policies")
                .await?;
        }
        let rows = self.store.read().await?.list_policy_settings().await?;
        let now = self.config();
        Ok(SECTIONS
            .iter()
            .map(|s| self.section_view(&now, s, rows.iter().find(|r| r.section == *s)))
            .collect())
    }

    fn section_view(
        &self,
        now: &Config,
        section: &'static str,
        row: Option<&PolicySettingsRow>,
    ) -> PolicySection {
        let (in_force, file) = (
            now.policy_values(section).unwrap_or_default(),
            self.live.file.policy_values(section).unwrap_or_default(),
        );
        let set = row.map(settings_of).unwrap_or_default();
        PolicySection {
            section,
            fields: EDITABLE
                .iter()
                .filter(|f| f.section == section)
                .map(|f| PolicyFieldView {
                    key: f.key,
                    kind: f.kind,
                    about: f.about,
                    value: in_force.get(f.key).cloned().unwrap_or(Value::Null),
                    file_value: file.get(f.key).cloned().unwrap_or(Value::Null),
                    set_here: set.contains_key(f.key),
                })
                .collect(),
            changed_at: row.map(|r| r.changed_at.to_rfc3339()),
            changed_by: row.map(|r| r.changed_by.clone()),
            not_in_force: row.and_then(|r| {
                self.live
                    .file
                    .with_policy(section, &settings_of(r))
                    .err()
                    .map(|e| e.join("; "))
            }),
        }
    }

    /// Sets keys of one section over the file (a `null` value gives the key back to the
    /// file), checked as the file is, audited, and in force on this node at once.
    pub async fn change_policy(
        &self,
        actor: &Actor,
        section: &str,
        changes: &Map<String, Value>,
    ) -> Result<PolicySection, IdentityError> {
        let target = format!("policy:{section}");
        self.require(actor, Permission::ManagePolicies, &target)
            .await?;
        let Some(section) = SECTIONS.iter().copied().find(|s| *s == section) else {
            return Err(IdentityError::NotFound(format!(
                "no policy section '{section}' (password, lockout, mfa, sessions)"
            )));
        };
        if changes.is_empty() {
            return Err(IdentityError::Invalid("no change given".into()));
        }
        let mut tx = self.store.begin().await?;
        let rows = tx.list_policy_settings().await?;
        let before = apply(&self.live.file, &rows);
        let mut set = rows
            .iter()
            .find(|r| r.section == section)
            .map(settings_of)
            .unwrap_or_default();
        for (k, v) in changes {
            match v {
                Value::Null => set.remove(k),
                v => set.insert(k.clone(), v.clone()),
            };
        }
        let mut after = self
            .live
            .file
            .with_policy(section, &set)
            .map_err(|e| e.join("; "));
        if let (Ok(c), "mfa") = (&after, section)
            && let Err(e) = check_departments(&mut tx, &c.mfa.required_departments).await?
        {
            after = Err(e);
        }
        let after = match after {
            Ok(c) => c,
            Err(problems) => {
                // Refused changes are recorded too: trying to get past a bound is worth knowing.
                let event = self
                    .audit(actor, action::POLICY_CHANGE, target)
                    .with_outcome(carepost_audit::Outcome::Failure)
                    .with_details(
                        json!({ "section": section, "asked": changes, "problems": problems }),
                    );
                tx.append_audit(&event).await?;
                tx.commit().await?;
                return Err(IdentityError::Invalid(problems));
            }
        };
        let now = self.clock.now();
        let row = PolicySettingsRow {
            section: section.to_string(),
            settings: Value::Object(set.clone()).to_string(),
            changed_at: now,
            changed_by: actor.who.label(),
        };
        tx.put_policy_settings(&row).await?;
        let (old, new) = (
            before.policy_values(section).unwrap_or_default(),
            after.policy_values(section).unwrap_or_default(),
        );
        let changed: Map<String, Value> = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), json!({ "from": old.get(k), "to": v })))
            .collect();
        let event = self
            .audit(actor, action::POLICY_CHANGE, target)
            .with_details(json!({ "section": section, "changed": changed, "set_here": set }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        // In force here now (read back from the store, in order with the other reloads); the
        // other nodes read it within 2 seconds. The change is saved either way: a failed
        // read here is retried by the reload loop.
        if let Err(e) = self.reload_policies().await {
            tracing::warn!(error = %e, "reading the policies back after a change failed");
        }
        let kept = (row.settings != "{}").then_some(&row);
        Ok(self.section_view(&self.config(), section, kept))
    }
}

impl Directory {
    /// Gives every key of a section back to the config file.
    pub async fn reset_policy(
        &self,
        actor: &Actor,
        section: &str,
    ) -> Result<PolicySection, IdentityError> {
        let all: Map<String, Value> = EDITABLE
            .iter()
            .filter(|f| f.section == section)
            .map(|f| (f.key.to_string(), Value::Null))
            .collect();
        // An unknown section gives an empty map, which `change_policy` refuses by name after
        // checking the permission.
        self.change_policy(actor, section, &all).await
    }
}

/// A department that MFA is required for must exist: a misspelt name would require nothing.
async fn check_departments(
    tx: &mut Tx,
    names: &[String],
) -> Result<Result<(), String>, IdentityError> {
    for name in names {
        if tx.find_department_by_name(name).await?.is_none() {
            return Ok(Err(format!(
                "mfa.required_departments: no department '{name}'"
            )));
        }
    }
    Ok(Ok(()))
}
