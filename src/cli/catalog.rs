//! `kassa catalog`: list the catalog, or import a CSV (all rows or none).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{print_json, CliError, CliResult, Context};
use crate::store::parse_catalog_csv;

#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub action: Option<CatalogAction>,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum CatalogAction {
    /// Import products from a CSV file: sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax[,active].
    Import { file: PathBuf },
}

pub fn run(ctx: &Context, args: CatalogArgs) -> CliResult {
    if let Some(CatalogAction::Import { file }) = args.action {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", file.display())))?;
        let products = parse_catalog_csv(&text)
            .map_err(|e| CliError::BadInput(format!("{}: {e}", file.display())))?;
        let store = ctx.open_store()?;
        let n = store.call_blocking(move |db| db.import_catalog(&products))??;
        outln!("imported {n} products from {}", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = ctx.open_store()?;
    let products = store.call_blocking(|db| db.catalog())??;
    if args.json {
        print_json(&products)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = ctx.config.currency();
    for p in products {
        outln!(
            "{:<8} {:<14} {:<32} {:>9} {:>6}{}",
            p.sku,
            p.barcode.as_deref().unwrap_or("-"),
            p.name,
            c.format(p.price_cents),
            format!("{}.{:02}%", p.tax_rate_bp / 100, p.tax_rate_bp % 100),
            if p.active { "" } else { "  (inactive)" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
