//! `weco`: serve the API, migrate the database, seed it, print the schema.

use anyhow::Context as _;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use std::io::Write as _;
use weco_server::config::{Cli, Command, MigrateAction};
use weco_server::{Application, startup};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            weco_server::telemetry::init(&cli.settings.log_format);
            let app = Application::build(cli.settings).await?;
            // The first line of standard output names the bound address (port 0 picks a free one).
            let mut out = std::io::stdout();
            writeln!(out, "listening on http://{}", app.local_addr())?;
            out.flush()?;
            tracing::info!(address = %app.local_addr(), "serving GraphQL at /graphql, GraphiQL at /graphiql");
            app.run_until_stopped(startup::shutdown_signal()).await
        }
        Command::Migrate { action } => {
            weco_server::telemetry::init(&cli.settings.log_format);
            let mut settings = cli.settings;
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
            weco_server::telemetry::init(&cli.settings.log_format);
            let report = weco_server::seed::run(&cli.settings, &args).await?;
            println!("{report}");
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", weco_graph::sdl());
            Ok(())
        }
    }
}
