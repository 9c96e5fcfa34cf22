//! The mutation root, one object per area. Every mutation is one transaction in the domain.

mod access;
mod accounts;
mod posts;
mod spaces;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(accounts::AccountMutation, spaces::SpaceMutation, posts::PostMutation, access::AccessMutation);
