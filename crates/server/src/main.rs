//! `triage`: the server and its operator commands.

mod batch_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use triage_app::Registration;
use triage_domain::Role;
use triage_server::{Config, Server, ServerError, telemetry, wiring};

#[derive(Parser)]
#[command(name = "triage", version, about = "AI triage of chest CT studies")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Only dispatch jobs to the analysis (no HTTP): scale dispatching apart from the API.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Evaluate an LCT-format report against ground-truth labels (offline: ROC AUC with
    /// DeLong and bootstrap CIs, sensitivity, specificity, PPV, NPV with Wilson CIs, plots).
    Evaluate(triage_server::evaluate::EvaluateArgs),
    /// Analyse ZIPs, folders and DICOM files offline into one report (no server needed).
    Analyse(batch_cmd::AnalyseArgs),
    /// Upload ZIPs, folders and DICOM files to a triage server and combine the results.
    Submit(batch_cmd::SubmitArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input (one line), never from arguments.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        full_name: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Offline: needs no configuration, database or object store.
    if let Some(Command::Evaluate(args)) = &cli.command {
        return match triage_server::evaluate::run(args) {
            Ok(output) => {
                println!("{}", output.trim_end());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("triage evaluate: {err}");
                ExitCode::FAILURE
            }
        };
    }
    // The batch commands are clients: no server configuration, no log subscriber.
    let command = match cli.command {
        Some(Command::Analyse(args)) => return batch_cmd::analyse(args).await,
        Some(Command::Submit(args)) => return batch_cmd::submit(args).await,
        command => command,
    };
    let config = match Config::from_process_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("triage: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    match run(command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "triage stopped");
            eprintln!("triage: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), ServerError> {
    match command {
        Command::Serve => {
            let server = Server::start(&config).await?;
            tracing::info!(addr = %server.addr(), env = %config.env, "triage is listening");
            server.run_until_signal().await
        }
        Command::Worker => {
            let app = wiring::build_app(&config, None).await?;
            let _janitor = wiring::spool_janitor(&config);
            let worker = if config.ml.worker_id.is_empty() {
                triage_server::dispatcher::default_worker_id(&format!(
                    "worker-{}",
                    std::process::id()
                ))
            } else {
                config.ml.worker_id.clone()
            };
            let poll = std::time::Duration::from_millis(config.ml.poll_interval_ms);
            tracing::info!(worker, "triage worker is dispatching");
            let dispatcher = triage_server::Dispatcher::spawn(app, worker, poll);
            triage_server::shutdown_signal().await;
            dispatcher.stop().await;
            Ok(())
        }
        Command::Migrate => {
            wiring::migrate(&config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Evaluate(_) => unreachable!("handled before the configuration is read"),
        Command::User(UserCommand::Create {
            username,
            admin,
            email,
            full_name,
        }) => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let app = wiring::build_app(&config, None).await?;
            let role = if admin { Role::Admin } else { Role::User };
            let user = app
                .create_user(
                    Registration {
                        username,
                        password,
                        email,
                        full_name,
                    },
                    role,
                )
                .await?;
            println!("created {} {} ({})", user.role, user.username, user.id);
            Ok(())
        }
        Command::Analyse(_) | Command::Submit(_) => {
            unreachable!("handled before the configuration is loaded")
        }
    }
}
