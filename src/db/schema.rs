// @generated automatically by Diesel CLI.

diesel::table! {
    ledger_secrets (name) {
        name -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_attempts (bucket) {
        bucket -> Text,
        window_start -> Timestamp,
        attempts -> Integer,
    }
}

diesel::table! {
    oidc_flows (state_hash) {
        state_hash -> Text,
        provider_id -> Text,
        browser_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        return_to -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oidc_identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        provider_id -> Text,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oidc_logout_tokens (issuer, jti) {
        issuer -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        credential -> Text,
        sign_count -> BigInt,
        backup_eligible -> Bool,
        backup_state -> Bool,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pending_logins (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        amr -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        failures -> Integer,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        parent_hash -> Nullable<Text>,
        created_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    security_events (id) {
        id -> BigInt,
        at -> Timestamp,
        kind -> Text,
        user_id -> Nullable<Text>,
        username -> Nullable<Text>,
        session_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_used_at -> Timestamp,
        user_agent -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
        auth_time -> Timestamp,
        amr -> Text,
        acr -> Text,
        last_client_addr -> Nullable<Text>,
        last_user_agent -> Nullable<Text>,
        oidc_provider -> Nullable<Text>,
        oidc_sid -> Nullable<Text>,
    }
}

diesel::table! {
    totp_factors (user_id) {
        user_id -> Text,
        secret -> Nullable<Text>,
        pending_secret -> Nullable<Text>,
        last_step -> Nullable<Integer>,
        enabled_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webauthn_ceremonies (id_hash) {
        id_hash -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        username_key -> Text,
        password_hash -> Text,
        roles -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ws_tickets (ticket_hash) {
        ticket_hash -> Text,
        session_id -> Text,
        claims -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(oidc_identities -> users (user_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(pending_logins -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(totp_factors -> users (user_id));
diesel::joinable!(webauthn_ceremonies -> users (user_id));
diesel::joinable!(ws_tickets -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    ledger_secrets,
    login_attempts,
    oidc_flows,
    oidc_identities,
    oidc_logout_tokens,
    passkeys,
    pending_logins,
    recovery_codes,
    refresh_tokens,
    security_events,
    sessions,
    totp_factors,
    users,
    webauthn_ceremonies,
    ws_tickets,
);
