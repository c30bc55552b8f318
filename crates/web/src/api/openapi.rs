//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations (utoipa)
//! and served at `/api/v1/openapi.json`.

use super::{
    accounts, admin, apps, auth, calendar, change_requests, error, invitations, me, passkeys,
    policies, resources, shares, sources, step_up,
};
use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "carepost API",
        description = "Sign-in, self-service and administration. Requests that change something carry `X-Carepost-Request: 1` unless they use a bearer token. Errors are `{error, message}`."
    ),
    servers((url = "/api/v1")),
    paths(
        auth::sign_in, auth::second_factor, auth::sign_out, auth::recover,
        passkeys::sign_in_challenge, me::show, me::change_password, me::check_password, me::sessions,
        me::end_other_sessions, me::end_session, me::signed_in_apps, me::sign_out_app, step_up::step_up,
        step_up::passkey_challenge, me::app_passwords, me::create_app_password, me::revoke_app_password,
        me::begin_totp, me::confirm_totp, me::recovery_codes, passkeys::list,
        passkeys::finish_registration, passkeys::begin_registration, passkeys::remove,
        admin::list_accounts, admin::address_preview, admin::create_account, admin::show_account, admin::edit_account, sources::unlock,
        sources::paused, sources::of_account, sources::clear,
        admin::set_status, admin::reset_password, admin::reset_mfa, admin::end_sessions,
        admin::audit, admin::helpdesk_reset, admin::request_reset, admin::approve_reset,
        admin::departments, admin::create_department, admin::rename_department,
        admin::move_department, admin::remove_department, invitations::issue,
        invitations::list, invitations::revoke, invitations::welcome, admin::policy, admin::tokens,
        admin::create_token, admin::revoke_token, admin::import, apps::list, apps::create,
        apps::remove, policies::list, policies::change, policies::reset,
        change_requests::create, change_requests::list, change_requests::approve,
        change_requests::decline, accounts::rename, accounts::revoke_app_passwords,
        accounts::roles, accounts::grant_role, accounts::revoke_role, admin::reset_requests,
        admin::verify_audit, resources::list, resources::create, resources::show,
        resources::update, resources::remove, resources::bookings, resources::approve,
        resources::decline, resources::waiting, calendar::free_busy, calendar::shared,
        calendar::agenda, calendar::create_event, calendar::change_event, calendar::cancel_event, calendar::answer, shares::list, shares::share,
        shares::unshare, shares::add_delegate, shares::remove_delegate, shares::leave,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&Security),
    security(("session" = []), ("token" = []))
)]
pub struct ApiDoc;

/// The two ways to call the API: the portal's session cookie, or an API token.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
