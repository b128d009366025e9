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
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        parent_hash -> Nullable<Text>,
        created_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
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

diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    ledger_secrets,
    login_attempts,
    refresh_tokens,
    sessions,
    users,
);
