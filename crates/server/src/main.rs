//! `weco`: serve the API, migrate the database, seed it, print the schema.

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use std::io::Write as _;
use weco_server::config::{Cli, Command, MigrateAction, redact_url};
use weco_server::{Application, Settings, startup};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::load();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::PrintSchema = command {
        print!("{}", weco_graph::sdl());
        return Ok(());
    }
    let telemetry = weco_server::telemetry::init(&cli.settings.log_format)?;
    tracing::info!(config_file = ?cli.config, settings = ?cli.settings, "configuration");
    let result = run(command, cli.settings, telemetry.exports_traces()).await;
    // Spans of the last requests may still be buffered: send them before exiting.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    result
}

async fn run(command: Command, settings: Settings, exports_traces: bool) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings, exports_traces).await,
        Command::Migrate { action } => {
            let mut settings = settings;
            settings.no_migrate = true;
            let store = startup::open_store(&settings).await?;
            let conn = store.connection();
            match action {
                MigrateAction::Up => Migrator::up(conn, None).await.context("migrating up")?,
                MigrateAction::Down => Migrator::down(conn, Some(1)).await.context("migrating down")?,
                MigrateAction::Status => {
                    for m in Migrator::get_migration_with_status(conn).await? {
                        println!("{:<8} {}", format!("{:?}", m.status()).to_lowercase(), m.name());
                    }
                }
            }
            Ok(())
        }
        Command::Seed(args) => {
            // The flags are checked before the database is opened.
            let demo = args.options().preset == weco_seed::Preset::Demo;
            let seeding = args.options().prepare()?;
            let settings = args.settings(&settings);
            let store = startup::open_store(&settings).await?;
            let report = seeding.run(&store, &redact_url(&settings.database_url)).await?;
            println!("{report}");
            if demo {
                // Images and cards for the demo (docs/media.md), written directly: nothing is fetched.
                let (images, cards) =
                    weco_server::media::demo::seed(&store, &settings.media, &settings.database_url).await?;
                println!("demo media: {images} images, {cards} cards");
            }
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", weco_graph::sdl());
            Ok(())
        }
        Command::Export { out, format } => {
            let store = startup::open_store(&settings).await?;
            for (table, rows) in weco_server::export::export_to_dir(&store, &out, format).await? {
                println!("{table}: {rows} rows");
            }
            println!("data dictionary: {}", out.join("README.md").display());
            Ok(())
        }
    }
}

/// Serves until ctrl-c or SIGTERM. With `graphql_spans`, GraphQL execution is traced in detail (worth it
/// when spans are exported).
async fn serve(settings: Settings, graphql_spans: bool) -> anyhow::Result<()> {
    let app = Application::build_with(settings, graphql_spans).await?;
    // The first line of standard output names the bound address (port 0 picks a free one).
    let mut out = std::io::stdout();
    writeln!(out, "listening on http://{}", app.local_addr())?;
    out.flush()?;
    tracing::info!(address = %app.local_addr(), "serving GraphQL at /graphql, GraphiQL at /graphiql");
    app.run_until_stopped(startup::shutdown_signal()).await
}
