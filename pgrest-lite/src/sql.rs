//! The server-side SQL, embedded at build time: [`SUPABASE_SETUP`] (what a Supabase project
//! already has), [`SUPABASE_AUTH`] (Supabase Auth's tables), [`MIGRATIONS`] (`supabase/migrations/*.sql`, in order) and [`SEED`]
//! (`supabase/seed.sql`), plus a helper to apply them to a database.

include!(concat!(env!("OUT_DIR"), "/embedded_sql.rs"));

/// Applies the setup SQL, every migration and (if `seed`) the seed to the database that
/// `client` is connected to, as a superuser. The setup touches cluster-wide roles, so it is
/// serialised across concurrent callers with an advisory lock in database `postgres`'s key
/// space of `admin` (any connection to the cluster's maintenance database).
pub async fn apply_all(
    admin: &tokio_postgres::Client,
    client: &tokio_postgres::Client,
    seed: bool,
) -> Result<(), tokio_postgres::Error> {
    admin
        .batch_execute("select pg_advisory_lock(1801, 42)")
        .await?;
    let mut setup = client.batch_execute(SUPABASE_SETUP).await;
    if setup.is_ok() {
        setup = client.batch_execute(SUPABASE_AUTH).await;
    }
    admin
        .batch_execute("select pg_advisory_unlock(1801, 42)")
        .await?;
    setup?;
    for (_, sql) in MIGRATIONS {
        client.batch_execute(sql).await?;
    }
    if seed {
        client.batch_execute(SEED).await?;
    }
    Ok(())
}
