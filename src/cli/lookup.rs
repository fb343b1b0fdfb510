//! Asking the server for another till's sale (`kassa_sale_lookup`) and keeping the answer, so
//! that the sale can be refunded here, also offline afterwards. Shared by `kassa sales
//! --lookup` and `kassa refund`.

use uuid::Uuid;

use super::{CliError, Context};
use crate::domain::LookedUpSale;
use crate::remote::RemoteClient;
use crate::store::StoreHandle;

/// Looks `sale_id` up on the server and caches it. `Ok(None)`: the store has no such sale.
/// An unconfigured remote or a failed call is an error saying why.
pub fn lookup_and_cache(
    ctx: &Context,
    store: &StoreHandle,
    sale_id: Uuid,
) -> Result<Option<LookedUpSale>, CliError> {
    if !ctx.config.remote.is_configured() {
        return Err(CliError::BadInput(format!(
            "unknown receipt {sale_id}: not a sale of this till, and no remote is configured \
             to look it up"
        )));
    }
    let client = RemoteClient::new(&ctx.config.remote)
        .map_err(|e| CliError::BadInput(format!("cannot look up {sale_id}: {e}")))?;
    let rt = super::sync::runtime()?;
    let answer = rt
        .block_on(client.sale_lookup(&sale_id.to_string()))
        .map_err(|e| {
            CliError::BadInput(format!(
                "unknown receipt {sale_id}: not a sale of this till, and the server could not \
                 be asked ({e})"
            ))
        })?
        .value;
    let Some(found) = answer else {
        return Ok(None);
    };
    if found.sale_id != sale_id {
        return Err(CliError::Failed(format!(
            "the server answered the lookup of {sale_id} with sale {}",
            found.sale_id
        )));
    }
    let keep = found.clone();
    store.call_blocking(move |db| db.cache_looked_up_sale(&keep, chrono::Utc::now()))??;
    Ok(Some(found))
}
