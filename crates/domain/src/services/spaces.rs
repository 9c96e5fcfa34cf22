//! Spaces and the holarchy: creating, attaching, detaching, following, and every read of them.

use super::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use crate::ports::Repo;
use crate::values::{Depth, Description, Handle, Privacy, RequestState, SpaceName, SpaceSort};
use std::collections::HashSet;

/// `createSpace(input)` as given by the client.
#[derive(Debug, Clone)]
pub struct CreateSpaceCommand {
    pub handle: String,
    pub name: String,
    pub description: String,
    pub privacy: Privacy,
    pub parent_id: Option<SpaceId>,
}

/// The new space, and the request filed when its parent's moderators must approve.
#[derive(Debug, Clone)]
pub struct CreatedSpace {
    pub space: Space,
    pub request: Option<SpaceRequest>,
}

/// Whether an attachment happened, or waits for the parent's moderators.
#[derive(Debug, Clone)]
pub enum Attachment {
    Attached,
    Requested(SpaceRequest),
}

async fn load_space(repo: &dyn Repo, id: SpaceId) -> DomainResult<Space> {
    repo.spaces_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("space"))
}

async fn moderates(repo: &dyn Repo, user: UserId, space: SpaceId) -> DomainResult<bool> {
    Ok(!repo.moderated_among(user, &[space]).await?.is_empty())
}

/// Refuses an attachment that would put `child` inside itself.
async fn check_no_cycle(repo: &dyn Repo, parent: SpaceId, child: SpaceId) -> DomainResult<()> {
    if child == ROOT_SPACE_ID {
        return Err(DomainError::Cycle("the root space cannot be placed under another space".into()));
    }
    if repo.is_ancestor_or_self(child, parent).await? {
        return Err(DomainError::Cycle(if parent == child {
            "a space cannot be its own parent".into()
        } else {
            "the parent lies inside the child: attaching would make a cycle".into()
        }));
    }
    Ok(())
}

/// Attaches at once; a space placed under a real parent stops being a direct child of the root.
async fn attach_now(repo: &dyn Repo, parent: SpaceId, child: SpaceId) -> DomainResult<()> {
    repo.attach(parent, child).await?;
    if parent != ROOT_SPACE_ID && repo.has_edge(ROOT_SPACE_ID, child).await? {
        repo.detach(ROOT_SPACE_ID, child).await?;
    }
    Ok(())
}

impl App {
    /// Creates a space. The creator becomes its moderator, member and first follower. With a parent the
    /// creator moderates, it is attached at once; otherwise it starts under the root and a request goes to
    /// the parent's moderators.
    pub async fn create_space(&self, viewer: Viewer, cmd: CreateSpaceCommand) -> DomainResult<CreatedSpace> {
        let user = viewer.require()?;
        let handle = Handle::parse(&cmd.handle, "input.handle")?;
        let name = SpaceName::parse(&cmd.name, "input.name")?;
        let description = Description::parse(&cmd.description, "input.description")?;

        let tx = self.store.begin().await?;
        tx.lock_holarchy().await?;
        if let Some(parent) = cmd.parent_id {
            load_space(&*tx, parent).await.map_err(|_| DomainError::NotFound("parent space"))?;
        }
        if tx.space_by_handle(handle.as_str()).await?.is_some() {
            return Err(DomainError::conflict(format!("input.handle: the space handle '{handle}' is taken")));
        }
        let id = SpaceId::generate();
        let created_at = now();
        tx.insert_space(&NewSpace {
            id,
            handle: handle.into_inner(),
            name: name.into_inner(),
            description: description.into_inner(),
            privacy: cmd.privacy,
            creator_id: user,
            created_at,
        })
        .await?;
        tx.add_moderator(id, user).await?;
        tx.add_member(id, user).await?;
        tx.follow(id, user).await?;

        let request = match cmd.parent_id {
            Some(parent) if parent != ROOT_SPACE_ID && !moderates(&*tx, user, parent).await? => {
                tx.attach(ROOT_SPACE_ID, id).await?;
                let request = SpaceRequest {
                    id: SpaceRequestId::generate(),
                    child_id: id,
                    parent_id: parent,
                    requester_id: user,
                    state: RequestState::Pending,
                    created_at,
                };
                tx.insert_space_request(&request).await?;
                Some(request)
            }
            Some(parent) => {
                tx.attach(parent, id).await?;
                None
            }
            None => {
                tx.attach(ROOT_SPACE_ID, id).await?;
                None
            }
        };
        let space = load_space(&*tx, id).await?;
        tx.commit().await?;
        Ok(CreatedSpace { space, request })
    }

    /// Places `child` under `parent` as well. The caller must moderate the child; unless they also moderate
    /// the parent (or the parent is the root, which belongs to everyone), a request is filed instead.
    pub async fn attach_space(&self, viewer: Viewer, child: SpaceId, parent: SpaceId) -> DomainResult<Attachment> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        tx.lock_holarchy().await?;
        load_space(&*tx, child).await?;
        load_space(&*tx, parent).await.map_err(|_| DomainError::NotFound("parent space"))?;
        if child == ROOT_SPACE_ID {
            return Err(DomainError::Cycle("the root space cannot be placed under another space".into()));
        }
        if !moderates(&*tx, user, child).await? {
            return Err(DomainError::forbidden("only a moderator of the child space can attach it"));
        }
        check_no_cycle(&*tx, parent, child).await?;
        if tx.has_edge(parent, child).await? {
            return Err(DomainError::conflict("the space is already a child of that parent"));
        }
        if parent == ROOT_SPACE_ID || moderates(&*tx, user, parent).await? {
            attach_now(&*tx, parent, child).await?;
            tx.commit().await?;
            return Ok(Attachment::Attached);
        }
        if let Some(existing) = tx.pending_space_request(child, parent).await? {
            return Ok(Attachment::Requested(existing));
        }
        let request = SpaceRequest {
            id: SpaceRequestId::generate(),
            child_id: child,
            parent_id: parent,
            requester_id: user,
            state: RequestState::Pending,
            created_at: now(),
        };
        tx.insert_space_request(&request).await?;
        tx.commit().await?;
        Ok(Attachment::Requested(request))
    }

    /// A moderator of the parent accepts (attaching the child) or rejects a pending request.
    pub async fn respond_to_space_request(
        &self,
        viewer: Viewer,
        id: SpaceRequestId,
        accept: bool,
    ) -> DomainResult<SpaceRequest> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        tx.lock_holarchy().await?;
        let request =
            tx.space_requests_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("space request"))?;
        if !moderates(&*tx, user, request.parent_id).await? {
            return Err(DomainError::forbidden("only a moderator of the parent space can answer this request"));
        }
        if request.state != RequestState::Pending {
            return Err(DomainError::conflict("the request has already been answered"));
        }
        let state = if accept { RequestState::Accepted } else { RequestState::Rejected };
        if accept {
            check_no_cycle(&*tx, request.parent_id, request.child_id).await?;
            if !tx.has_edge(request.parent_id, request.child_id).await? {
                attach_now(&*tx, request.parent_id, request.child_id).await?;
            }
        }
        if !tx.resolve_space_request(id, state, user).await? {
            return Err(DomainError::conflict("the request has already been answered"));
        }
        tx.commit().await?;
        Ok(SpaceRequest { state, ..request })
    }

    /// Removes `child` from under `parent`; moderators of either side may. A child left with no parent goes
    /// back under the root. Refused when it would expose content kept inside a private space.
    pub async fn detach_space(&self, viewer: Viewer, child: SpaceId, parent: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        tx.lock_holarchy().await?;
        load_space(&*tx, child).await?;
        load_space(&*tx, parent).await.map_err(|_| DomainError::NotFound("parent space"))?;
        let moderated = tx.moderated_among(user, &[child, parent]).await?;
        if moderated.is_empty() {
            return Err(DomainError::forbidden("only moderators of the child or the parent can detach"));
        }
        if !tx.has_edge(parent, child).await? {
            return Err(DomainError::NotFound("link between these spaces"));
        }
        if parent == ROOT_SPACE_ID && tx.parent_ids(child).await?.len() == 1 {
            return Err(DomainError::conflict("a space with no other parent stays under the root"));
        }
        let outcome = tx.detach(parent, child).await?;
        if outcome.private_ancestry_lost > 0 {
            return Err(DomainError::PrivacyWidening(
                "detaching would take the space out of a private space and expose what it holds".into(),
            ));
        }
        let space = load_space(&*tx, child).await?;
        tx.commit().await?;
        Ok(space)
    }

    pub async fn follow_space(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        self.require_access(viewer, space).await?;
        let tx = self.store.begin().await?;
        tx.follow(space, user).await?;
        let space = load_space(&*tx, space).await?;
        tx.commit().await?;
        Ok(space)
    }

    pub async fn unfollow_space(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        load_space(&*tx, space).await?;
        tx.unfollow(space, user).await?;
        let space = load_space(&*tx, space).await?;
        tx.commit().await?;
        Ok(space)
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// Spaces by id, whatever the viewer may access (private spaces still show their id, handle, name and
    /// privacy; callers check [`App::accessible_spaces`] before showing more).
    pub async fn spaces_by_ids(&self, ids: &[SpaceId]) -> DomainResult<Vec<Space>> {
        self.store.spaces_by_ids(ids).await
    }

    pub async fn space_by_handle(&self, handle: &str) -> DomainResult<Option<Space>> {
        self.store.space_by_handle(handle).await
    }

    /// The space with this handle and whether the viewer may access it, read together.
    pub async fn space_by_handle_for(&self, viewer: Viewer, handle: &str) -> DomainResult<Option<(Space, bool)>> {
        self.store.space_by_handle_for(handle, viewer.id()).await
    }

    /// Which of `ids` the viewer may access.
    pub async fn accessible_spaces(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        Ok(self.store.accessible_among(viewer.id(), ids).await?.into_iter().collect())
    }

    pub async fn moderated_spaces(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        match viewer.id() {
            Some(user) => Ok(self.store.moderated_among(user, ids).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    pub async fn followed_spaces(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        match viewer.id() {
            Some(user) => Ok(self.store.followed_among(user, ids).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    /// `FORBIDDEN` unless the viewer may access the space.
    pub async fn require_access(&self, viewer: Viewer, space: SpaceId) -> DomainResult<()> {
        self.require_known_access(viewer, space, None).await
    }

    /// [`App::require_access`] for a caller that read the viewer's access to `space` earlier in the same request
    /// (`known`, from [`App::accessible_spaces`], [`App::space_by_handle_for`] or a listing); `None` reads it.
    pub async fn require_known_access(&self, viewer: Viewer, space: SpaceId, known: Option<bool>) -> DomainResult<()> {
        let accessible = match known {
            Some(known) => known,
            None => !self.store.accessible_among(viewer.id(), &[space]).await?.is_empty(),
        };
        if !accessible {
            load_space(&*self.store, space).await?;
            return Err(DomainError::forbidden("this space is private"));
        }
        Ok(())
    }

    pub async fn space_parents(&self, viewer: Viewer, space: SpaceId, page: PageRequest) -> DomainResult<Page<Space>> {
        self.require_access(viewer, space).await?;
        self.store.parents(space, &page).await
    }

    /// The children (or, with `Depth::All`, descendants) the viewer may browse to, each with whether the viewer
    /// may access it.
    pub async fn space_children(
        &self,
        viewer: Viewer,
        space: SpaceId,
        sort: SpaceSort,
        depth: Depth,
        page: PageRequest,
        known_access: Option<bool>,
    ) -> DomainResult<Page<(Space, bool)>> {
        self.require_known_access(viewer, space, known_access).await?;
        self.store.children(viewer.id(), space, sort, depth, &page).await
    }

    pub async fn space_ancestors(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Vec<Space>> {
        self.require_access(viewer, space).await?;
        self.store.ancestors(space).await
    }

    pub async fn space_descendants(
        &self,
        viewer: Viewer,
        space: SpaceId,
        page: PageRequest,
    ) -> DomainResult<Page<Space>> {
        self.require_access(viewer, space).await?;
        self.store.descendants(viewer.id(), space, &page).await
    }

    pub async fn space_moderators(
        &self,
        viewer: Viewer,
        space: SpaceId,
        page: PageRequest,
    ) -> DomainResult<Page<User>> {
        self.require_access(viewer, space).await?;
        self.store.moderators(space, &page).await
    }

    /// Spaces whose handle or name contains `query` among those the viewer can reach by browsing: private ones
    /// show their names, but what lies inside a private space stays hidden from its non-members.
    pub async fn search_spaces(&self, viewer: Viewer, query: &str, page: PageRequest) -> DomainResult<Page<Space>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(DomainError::validation("query", "must not be empty"));
        }
        if query.chars().count() > 200 {
            return Err(DomainError::validation("query", "must be at most 200 characters long"));
        }
        self.store.search_spaces(viewer.id(), query, &page).await
    }

    /// Requests by id, for the viewer to see: requester, or moderator of either side.
    pub async fn space_request(&self, viewer: Viewer, id: SpaceRequestId) -> DomainResult<SpaceRequest> {
        let user = viewer.require()?;
        let request = self
            .store
            .space_requests_by_ids(&[id])
            .await?
            .into_iter()
            .next()
            .ok_or(DomainError::NotFound("space request"))?;
        if request.requester_id != user
            && self.store.moderated_among(user, &[request.child_id, request.parent_id]).await?.is_empty()
        {
            return Err(DomainError::NotFound("space request"));
        }
        Ok(request)
    }

    /// Pending attachment requests a parent's moderators have to answer.
    pub async fn pending_space_requests(
        &self,
        viewer: Viewer,
        parent: SpaceId,
        page: PageRequest,
    ) -> DomainResult<Page<SpaceRequest>> {
        let user = viewer.require()?;
        if !moderates(&*self.store, user, parent).await? {
            return Err(DomainError::forbidden("only moderators see a space's pending requests"));
        }
        self.store.pending_space_requests_for(parent, &page).await
    }
}
