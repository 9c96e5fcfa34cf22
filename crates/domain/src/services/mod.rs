//! The use cases. Each mutation parses its input, checks who may do it, then acts in one transaction.
//! Each read checks privacy (DESIGN §5) before it returns anything.

mod access;
mod accounts;
mod announce;
mod posts;
mod spaces;

pub use access::UpdateSpaceCommand;
pub use accounts::{LoginCommand, RegisterCommand};
pub use posts::{CreatePostCommand, MAX_TARGET_SPACES};
pub use spaces::{Attachment, CreateSpaceCommand, CreatedSpace};

use crate::auth::TokenKeys;
use crate::ports::{EventBus, PasswordHasher, Store};
use std::sync::Arc;

/// The application: the ports it needs, and the use cases as methods.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: TokenKeys,
    /// Where events go after each commit, and where subscriptions read them.
    pub bus: Arc<dyn EventBus>,
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: TokenKeys,
        bus: Arc<dyn EventBus>,
    ) -> Self {
        Self { store, hasher, tokens, bus }
    }
}
