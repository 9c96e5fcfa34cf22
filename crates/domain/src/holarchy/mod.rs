//! The holarchy: creating spaces, placing them under one another (at once or by request), detaching,
//! following, editing and deleting them, and every read of spaces and the tree.
//!
//! Tree edits keep everything derived from the tree true in the same unit of work (the closure, the flow
//! rule, which posts appear where, the counters: docs/holarchy.md) and announce what changed: posts that now
//! appear in (or left) a feed, and `AccessChanged` where an edit narrowed who may access a space, so live
//! subscribers re-check (docs/privacy.md rule 7).

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{Event, Topic};
use crate::ids::*;
use crate::model::*;
use crate::notifications::{self, Fold, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::policy::{self, Action};
use crate::privacy::{Accessible, SpaceView};
use crate::uow::{Command, Repos, UnitOfWork};
use crate::values::{Depth, Description, Handle, Privacy, RequestState, SpaceName, SpaceSort};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};

/// `createSpace(input)` as given by the client.
#[derive(Debug, Clone)]
pub struct CreateSpaceInput {
    pub handle: String,
    pub name: String,
    pub description: String,
    pub privacy: Privacy,
    pub parent_id: Option<SpaceId>,
}

/// `updateSpace(input)` as given by the client: only what is given changes.
#[derive(Debug, Clone)]
pub struct UpdateSpaceInput {
    pub space_id: SpaceId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub privacy: Option<Privacy>,
}

/// The new space, and the request filed when its parent's moderators must approve.
#[derive(Debug, Clone)]
pub struct CreatedSpace {
    pub space: SpaceView,
    pub request: Option<SpaceRequest>,
}

/// Whether an attachment happened, or waits for the parent's moderators.
#[derive(Debug, Clone)]
pub enum Attachment {
    Attached,
    Requested(SpaceRequest),
}

/// The holarchy service: `app.holarchy()`.
pub struct HolarchyService<'a> {
    pub(crate) app: &'a App,
}

pub(crate) async fn load_space(repos: &dyn Repos, id: SpaceId) -> DomainResult<Space> {
    repos.holarchy().spaces_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("space"))
}

/// The space as the actor sees it, read in the unit of work (what a mutation returns).
pub(crate) async fn view_in(uow: &UnitOfWork, id: SpaceId) -> DomainResult<SpaceView> {
    let viewer = uow.actor().viewer();
    let row = uow.holarchy().spaces_for(viewer.id(), &[id]).await?.into_iter().next();
    let (space, ok) = row.ok_or(DomainError::NotFound("space"))?;
    Ok(SpaceView::new(space, viewer, ok))
}

/// Refuses an attachment that would put `child` inside itself.
async fn check_no_cycle(repos: &dyn Repos, parent: SpaceId, child: SpaceId) -> DomainResult<()> {
    if child == ROOT_SPACE_ID {
        return Err(DomainError::Cycle("the root space cannot be placed under another space".into()));
    }
    if repos.holarchy().is_ancestor_or_self(child, parent).await? {
        return Err(DomainError::Cycle(if parent == child {
            "a space cannot be its own parent".into()
        } else {
            "the parent lies inside the child: attaching would make a cycle".into()
        }));
    }
    Ok(())
}

/// Attaches at once (a space placed under a real parent stops being a direct child of the root), announces
/// the posts that now appear in the spaces above, and — when the child now lies under private spaces it did
/// not before — ends follows that lost access and tells live subscribers of the subtree to re-check.
pub(crate) async fn attach_now(uow: &mut UnitOfWork, parent: SpaceId, child: SpaceId) -> DomainResult<()> {
    let before = private_ancestors(&**uow, child).await?;
    let mut changes = uow.holarchy().attach(parent, child).await?;
    if parent != ROOT_SPACE_ID && uow.holarchy().has_edge(ROOT_SPACE_ID, child).await? {
        let (removed, _) = uow.holarchy().detach(ROOT_SPACE_ID, child).await?;
        changes.extend(removed);
    }
    crate::feeds::announce_appearances(uow, &changes).await?;
    if private_ancestors(&**uow, child).await? != before {
        narrowed(uow, child).await?;
    }
    Ok(())
}

async fn private_ancestors(repos: &dyn Repos, space: SpaceId) -> DomainResult<std::collections::BTreeSet<SpaceId>> {
    Ok(repos.holarchy().private_ancestry(&[space]).await?.remove(&space).unwrap_or_default())
}

/// Who may access `space` and the spaces below it narrowed: follows without access end, and live subscribers
/// of the subtree re-check their access.
pub(crate) async fn narrowed(uow: &mut UnitOfWork, space: SpaceId) -> DomainResult<()> {
    uow.holarchy().drop_follows_without_access(space).await?;
    let subtree = uow.holarchy().subtree_ids(space).await?;
    for id in subtree {
        uow.announce(vec![Topic::Space(id)], Event::AccessChanged { space_id: id });
    }
    Ok(())
}

pub(crate) struct CreateSpace {
    pub(crate) creator: UserId,
    pub(crate) handle: Handle,
    pub(crate) name: SpaceName,
    pub(crate) description: Description,
    pub(crate) privacy: Privacy,
    pub(crate) parent: Option<SpaceId>,
}

#[async_trait]
impl Command for CreateSpace {
    type Output = CreatedSpace;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<CreatedSpace> {
        let actor = uow.actor();
        uow.holarchy().lock_holarchy().await?;
        if let Some(parent) = self.parent {
            load_space(&**uow, parent).await.map_err(|_| DomainError::NotFound("parent space"))?;
        }
        if uow.holarchy().space_by_handle(self.handle.as_str()).await?.is_some() {
            return Err(DomainError::conflict(format!("input.handle: the space handle '{}' is taken", self.handle)));
        }
        let id = SpaceId::generate();
        let created_at = uow.now();
        uow.holarchy()
            .insert_space(&NewSpace {
                id,
                handle: self.handle.as_str().to_owned(),
                name: self.name.as_str().to_owned(),
                description: self.description.as_str().to_owned(),
                privacy: self.privacy,
                creator_id: self.creator,
                created_at,
            })
            .await?;
        uow.access().add_moderator(id, self.creator).await?;
        uow.access().add_member(id, self.creator).await?;
        uow.holarchy().follow(id, self.creator).await?;

        let adopts = match self.parent {
            Some(parent) if parent != ROOT_SPACE_ID => {
                policy::allows(&actor, policy::moderator_of(&**uow, &actor, parent).await?, Action::AdoptSpace)
            }
            _ => true,
        };
        let request = match self.parent {
            Some(parent) if !adopts => {
                uow.holarchy().attach(ROOT_SPACE_ID, id).await?;
                let request = SpaceRequest {
                    id: SpaceRequestId::generate(),
                    child_id: id,
                    parent_id: parent,
                    requester_id: self.creator,
                    state: RequestState::Pending,
                    created_at,
                };
                uow.holarchy().insert_space_request(&request).await?;
                let kind = NotificationKind::SpaceRequestReceived;
                notifications::notify_moderators(uow, parent, kind, Some(self.creator), Fold::Never(request.id.0))
                    .await?;
                Some(request)
            }
            Some(parent) => {
                uow.holarchy().attach(parent, id).await?;
                None
            }
            None => {
                uow.holarchy().attach(ROOT_SPACE_ID, id).await?;
                None
            }
        };
        uow.commons().record_space_created(id, self.creator, created_at).await?;
        Ok(CreatedSpace { space: view_in(uow, id).await?, request })
    }
}

struct AttachSpace {
    child: SpaceId,
    parent: SpaceId,
}

#[async_trait]
impl Command for AttachSpace {
    type Output = Attachment;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Attachment> {
        let actor = uow.actor();
        let (child, parent) = (self.child, self.parent);
        uow.holarchy().lock_holarchy().await?;
        load_space(&**uow, child).await?;
        load_space(&**uow, parent).await.map_err(|_| DomainError::NotFound("parent space"))?;
        if child == ROOT_SPACE_ID {
            return Err(DomainError::Cycle("the root space cannot be placed under another space".into()));
        }
        policy::require_moderator(&**uow, &actor, child, Action::AttachSpace).await?;
        check_no_cycle(&**uow, parent, child).await?;
        if uow.holarchy().has_edge(parent, child).await? {
            return Err(DomainError::conflict("the space is already a child of that parent"));
        }
        // The root belongs to everyone: a space may always go (back) under it.
        let adopts = parent == ROOT_SPACE_ID
            || policy::allows(&actor, policy::moderator_of(&**uow, &actor, parent).await?, Action::AdoptSpace);
        if adopts {
            attach_now(uow, parent, child).await?;
            return Ok(Attachment::Attached);
        }
        if let Some(existing) = uow.holarchy().pending_space_request(child, parent).await? {
            return Ok(Attachment::Requested(existing));
        }
        let request = SpaceRequest {
            id: SpaceRequestId::generate(),
            child_id: child,
            parent_id: parent,
            requester_id: actor.require_user()?,
            state: RequestState::Pending,
            created_at: uow.now(),
        };
        uow.holarchy().insert_space_request(&request).await?;
        let (kind, fold) = (NotificationKind::SpaceRequestReceived, Fold::Never(request.id.0));
        notifications::notify_moderators(uow, parent, kind, actor.user(), fold).await?;
        Ok(Attachment::Requested(request))
    }
}

struct RespondToSpaceRequest {
    id: SpaceRequestId,
    accept: bool,
}

#[async_trait]
impl Command for RespondToSpaceRequest {
    type Output = SpaceRequest;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceRequest> {
        let actor = uow.actor();
        uow.holarchy().lock_holarchy().await?;
        let request = uow
            .holarchy()
            .space_requests_by_ids(&[self.id])
            .await?
            .into_iter()
            .next()
            .ok_or(DomainError::NotFound("space request"))?;
        policy::require_moderator(&**uow, &actor, request.parent_id, Action::AdoptSpace).await?;
        if request.state != RequestState::Pending {
            return Err(DomainError::conflict("the request has already been answered"));
        }
        let state = if self.accept { RequestState::Accepted } else { RequestState::Rejected };
        if self.accept {
            check_no_cycle(&**uow, request.parent_id, request.child_id).await?;
            if !uow.holarchy().has_edge(request.parent_id, request.child_id).await? {
                attach_now(uow, request.parent_id, request.child_id).await?;
            }
        }
        if !uow.holarchy().resolve_space_request(self.id, state, actor.user()).await? {
            return Err(DomainError::conflict("the request has already been answered"));
        }
        let kind = NotificationKind::SpaceRequestAnswered;
        notifications::notify_about_space(uow, request.requester_id, kind, request.child_id, request.id.0).await?;
        Ok(SpaceRequest { state, ..request })
    }
}

pub(crate) struct DetachSpace {
    pub(crate) child: SpaceId,
    pub(crate) parent: SpaceId,
}

#[async_trait]
impl Command for DetachSpace {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let actor = uow.actor();
        let (child, parent) = (self.child, self.parent);
        uow.holarchy().lock_holarchy().await?;
        load_space(&**uow, child).await?;
        load_space(&**uow, parent).await.map_err(|_| DomainError::NotFound("parent space"))?;
        let either = policy::moderator_of(&**uow, &actor, child).await?.moderator
            || policy::moderator_of(&**uow, &actor, parent).await?.moderator;
        policy::require(&actor, policy::Standing { moderator: either, ..Default::default() }, Action::DetachSpace)?;
        if !uow.holarchy().has_edge(parent, child).await? {
            return Err(DomainError::NotFound("link between these spaces"));
        }
        if parent == ROOT_SPACE_ID && uow.holarchy().parent_ids(child).await?.len() == 1 {
            return Err(DomainError::conflict("a space with no other parent stays under the root"));
        }
        let (changes, outcome) = uow.holarchy().detach(parent, child).await?;
        if outcome.private_ancestry_lost > 0 {
            return Err(DomainError::PrivacyWidening(
                "detaching would take the space out of a private space and expose what it holds".into(),
            ));
        }
        crate::feeds::announce_appearances(uow, &changes).await?;
        view_in(uow, child).await
    }
}

struct Follow {
    space: SpaceId,
    on: bool,
}

#[async_trait]
impl Command for Follow {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let user = uow.actor().require_user()?;
        let view = view_in(uow, self.space).await?;
        if self.on {
            if view.access.is_none() {
                return Err(DomainError::forbidden("this space is private"));
            }
            uow.holarchy().follow(self.space, user).await?;
        } else {
            uow.holarchy().unfollow(self.space, user).await?;
        }
        view_in(uow, self.space).await
    }
}

pub(crate) struct UpdateSpace {
    pub(crate) space: SpaceId,
    pub(crate) name: Option<SpaceName>,
    pub(crate) description: Option<Description>,
    pub(crate) privacy: Option<Privacy>,
}

#[async_trait]
impl Command for UpdateSpace {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let actor = uow.actor();
        uow.holarchy().lock_holarchy().await?;
        let space = load_space(&**uow, self.space).await?;
        policy::require_moderator(&**uow, &actor, space.id, Action::EditSpace).await?;
        if self.name.is_some() || self.description.is_some() {
            let name = self.name.as_ref().map_or(space.name.as_str(), SpaceName::as_str);
            let description = self.description.as_ref().map_or(space.description.as_str(), Description::as_str);
            uow.holarchy().update_space_details(space.id, name, description).await?;
        }
        if let Some(privacy) = self.privacy.filter(|p| *p != space.privacy) {
            if privacy == Privacy::Public {
                if uow.holarchy().subtree_holds_posts(space.id).await? {
                    return Err(DomainError::PrivacyWidening(
                        "making the space public would expose the posts inside it".into(),
                    ));
                }
                uow.access().remove_invite_link(space.id).await?;
            }
            let changes = uow.holarchy().set_space_privacy(space.id, privacy).await?;
            crate::feeds::announce_appearances(uow, &changes).await?;
            if privacy == Privacy::Private {
                narrowed(uow, space.id).await?;
            }
        }
        view_in(uow, space.id).await
    }
}

struct DeleteSpace {
    space: SpaceId,
}

#[async_trait]
impl Command for DeleteSpace {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let actor = uow.actor();
        uow.holarchy().lock_holarchy().await?;
        let before = load_space(&**uow, self.space).await?;
        if self.space == ROOT_SPACE_ID {
            return Err(DomainError::forbidden("the root space cannot be deleted"));
        }
        policy::require_moderator(&**uow, &actor, self.space, Action::DeleteSpace).await?;
        let (changes, lost) = uow.holarchy().delete_space(self.space).await?;
        if lost > 0 {
            return Err(DomainError::PrivacyWidening(
                "deleting the space would take the spaces inside it out of a private space: move or delete them first"
                    .into(),
            ));
        }
        crate::feeds::announce_appearances(uow, &changes).await?;
        uow.announce(vec![Topic::Space(self.space)], Event::AccessChanged { space_id: self.space });
        // Gone: nobody may access it any more.
        Ok(SpaceView::new(before, actor.viewer(), false))
    }
}

/// Folds a batch of changes to spaces' totals into the spaces (see [`HolarchyRepo::fold_space_totals`]).
struct FoldSpaceTotals {
    limit: u32,
}

#[async_trait]
impl Command for FoldSpaceTotals {
    type Output = u64;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<u64> {
        uow.holarchy().fold_space_totals(self.limit).await
    }
}

/// Changes to spaces' totals folded per unit of work.
pub const FOLD_BATCH: u32 = 5_000;

impl HolarchyService<'_> {
    /// Folds the changes to spaces' totals written so far into the spaces, a batch per unit of work, until none
    /// is left (or `max_batches` ran). Posts, likes, comments and follows only ever add change rows, so none of
    /// them waits for a busy space's row (the root's, which every post counts in); the host runs this every
    /// moment. Returns how many changes it folded.
    pub async fn fold_totals(&self, max_batches: u32) -> DomainResult<u64> {
        let mut folded = 0;
        for _ in 0..max_batches {
            let n = self.app.execute(crate::actor::Actor::System, &FoldSpaceTotals { limit: FOLD_BATCH }).await?;
            folded += n;
            if n < u64::from(FOLD_BATCH) {
                break;
            }
        }
        Ok(folded)
    }

    /// Gives back the room of the changes folded so far (see [`HolarchyRepo::reclaim_folded_totals`]); the host
    /// runs this every few seconds.
    pub async fn reclaim_folded_totals(&self) -> DomainResult<()> {
        self.app.store().holarchy().reclaim_folded_totals().await
    }

    /// Changes to spaces' totals not folded yet.
    pub async fn unfolded_totals(&self) -> DomainResult<i64> {
        self.app.store().holarchy().unfolded_space_totals().await
    }

    /// Creates a space. The creator becomes its moderator, member and first follower. With a parent the
    /// creator moderates, it is attached at once; otherwise it starts under the root and a request goes to
    /// the parent's moderators.
    pub async fn create_space(&self, viewer: Viewer, input: CreateSpaceInput) -> DomainResult<CreatedSpace> {
        let actor = viewer.actor()?;
        let command = CreateSpace {
            creator: viewer.require()?,
            handle: Handle::parse(&input.handle, "input.handle")?,
            name: SpaceName::parse(&input.name, "input.name")?,
            description: Description::parse(&input.description, "input.description")?,
            privacy: input.privacy,
            parent: input.parent_id,
        };
        self.app.execute(actor, &command).await
    }

    /// Places `child` under `parent` as well. The caller must moderate the child; unless they also moderate
    /// the parent (or the parent is the root, which belongs to everyone), a request is filed instead.
    pub async fn attach_space(&self, viewer: Viewer, child: SpaceId, parent: SpaceId) -> DomainResult<Attachment> {
        self.app.execute(viewer.actor()?, &AttachSpace { child, parent }).await
    }

    /// A moderator of the parent accepts (attaching the child) or rejects a pending request.
    pub async fn respond_to_space_request(
        &self,
        viewer: Viewer,
        id: SpaceRequestId,
        accept: bool,
    ) -> DomainResult<SpaceRequest> {
        self.app.execute(viewer.actor()?, &RespondToSpaceRequest { id, accept }).await
    }

    /// Removes `child` from under `parent`; moderators of either side may. A child left with no parent goes
    /// back under the root. Refused when it would expose content kept inside a private space.
    pub async fn detach_space(&self, viewer: Viewer, child: SpaceId, parent: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &DetachSpace { child, parent }).await
    }

    pub async fn follow_space(&self, viewer: Viewer, space: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &Follow { space, on: true }).await
    }

    pub async fn unfollow_space(&self, viewer: Viewer, space: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &Follow { space, on: false }).await
    }

    /// Changes a space's name, description or privacy (moderators). Making it private narrows who sees what
    /// is inside and is always allowed; making it public is refused while it or any space below holds posts
    /// (`PRIVACY_WIDENING`).
    pub async fn update_space(&self, viewer: Viewer, input: UpdateSpaceInput) -> DomainResult<SpaceView> {
        let command = UpdateSpace {
            space: input.space_id,
            name: input.name.as_deref().map(|n| SpaceName::parse(n, "input.name")).transpose()?,
            description: input
                .description
                .as_deref()
                .map(|d| Description::parse(d, "input.description"))
                .transpose()?,
            privacy: input.privacy,
        };
        self.app.execute(viewer.actor()?, &command).await
    }

    /// Deletes a space (moderators; never the root). Its posts leave the feeds it fed, its children go back
    /// under the root when it was their only parent. Refused (`PRIVACY_WIDENING`) when a space inside would
    /// lose a private ancestor — move or delete those first. Returns the space as it was.
    pub async fn delete_space(&self, viewer: Viewer, space: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &DeleteSpace { space }).await
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// Spaces by id as the viewer may see them (private ones show only their name, docs/privacy.md rule 6).
    pub async fn spaces(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<Vec<SpaceView>> {
        let rows = self.app.reads(viewer).holarchy().spaces_for(viewer.id(), ids).await?;
        Ok(SpaceView::all(rows, viewer))
    }

    /// The space with this handle as the viewer may see it.
    pub async fn space_by_handle(&self, viewer: Viewer, handle: &str) -> DomainResult<Option<SpaceView>> {
        let row = self.app.reads(viewer).holarchy().space_by_handle_for(handle, viewer.id()).await?;
        Ok(row.map(|(space, ok)| SpaceView::new(space, viewer, ok)))
    }

    /// Proofs of access to those of `ids` the viewer may access.
    pub async fn access(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<HashMap<SpaceId, Accessible>> {
        let accessible = self.app.reads(viewer).holarchy().accessible_among(viewer.id(), ids).await?;
        Ok(accessible.into_iter().map(|id| (id, Accessible::grant(viewer, id))).collect())
    }

    /// Proof of access to `space`, or `FORBIDDEN` (`NOT_FOUND` when there is no such space).
    pub async fn require_access(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Accessible> {
        match self.access(viewer, &[space]).await?.remove(&space) {
            Some(proof) => Ok(proof),
            None => {
                load_space(self.app.reads(viewer), space).await?;
                Err(DomainError::forbidden("this space is private"))
            }
        }
    }

    pub async fn moderated_spaces(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        match viewer.id() {
            Some(user) => Ok(self.app.reads(viewer).holarchy().moderated_among(user, ids).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    pub async fn followed_spaces(&self, viewer: Viewer, ids: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        match viewer.id() {
            Some(user) => Ok(self.app.reads(viewer).holarchy().followed_among(user, ids).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    pub async fn parents(&self, space: Accessible, page: PageRequest) -> DomainResult<Page<SpaceView>> {
        let viewer = space.viewer();
        let page = self.app.reads(viewer).holarchy().parents(viewer.id(), space.space(), &page).await?;
        Ok(page.map(|(s, ok)| SpaceView::new(s, viewer, ok)))
    }

    /// The children (or, with `Depth::All`, descendants) the viewer may browse to.
    pub async fn children(
        &self,
        space: Accessible,
        sort: SpaceSort,
        depth: Depth,
        page: PageRequest,
    ) -> DomainResult<Page<SpaceView>> {
        let viewer = space.viewer();
        let page = self.app.reads(viewer).holarchy().children(viewer.id(), space.space(), sort, depth, &page).await?;
        Ok(page.map(|(s, ok)| SpaceView::new(s, viewer, ok)))
    }

    /// Every space above, nearest first, the root last.
    pub async fn ancestors(&self, space: Accessible) -> DomainResult<Vec<SpaceView>> {
        let viewer = space.viewer();
        let rows = self.app.reads(viewer).holarchy().ancestors(viewer.id(), space.space()).await?;
        Ok(SpaceView::all(rows, viewer))
    }

    pub async fn descendants(&self, space: Accessible, page: PageRequest) -> DomainResult<Page<SpaceView>> {
        let viewer = space.viewer();
        let page = self.app.reads(viewer).holarchy().descendants(viewer.id(), space.space(), &page).await?;
        Ok(page.map(|(s, ok)| SpaceView::new(s, viewer, ok)))
    }

    /// Spaces whose handle or name contains `query` among those the viewer can reach by browsing: private ones
    /// show their names, but what lies inside a private space stays hidden from its non-members.
    pub async fn search(&self, viewer: Viewer, query: &str, page: PageRequest) -> DomainResult<Page<SpaceView>> {
        let query = crate::values::parse_search_query(query, "query")?;
        let page = self.app.reads(viewer).holarchy().search_spaces(viewer.id(), &query, &page).await?;
        Ok(page.map(|(s, ok)| SpaceView::new(s, viewer, ok)))
    }

    /// A request to attach, for the viewer to see: its requester, or a moderator of either side.
    pub async fn space_request(&self, viewer: Viewer, id: SpaceRequestId) -> DomainResult<Option<SpaceRequest>> {
        let Some(user) = viewer.id() else { return Ok(None) };
        let store = self.app.reads(viewer);
        let Some(request) = store.holarchy().space_requests_by_ids(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        let moderates =
            !store.holarchy().moderated_among(user, &[request.child_id, request.parent_id]).await?.is_empty();
        Ok((request.requester_id == user || moderates).then_some(request))
    }

    /// Pending attachment requests a parent's moderators have to answer.
    pub async fn pending_space_requests(
        &self,
        viewer: Viewer,
        parent: SpaceId,
        page: PageRequest,
    ) -> DomainResult<Page<SpaceRequest>> {
        let actor = viewer.actor()?;
        policy::require_moderator(self.app.reads(viewer), &actor, parent, Action::SeeSpaceRequests).await?;
        self.app.reads(viewer).holarchy().pending_space_requests_for(parent, &page).await
    }
}
