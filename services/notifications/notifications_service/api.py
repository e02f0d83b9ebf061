"""HTTP API of the notifications service, under /notifications (SPEC X-2).

Every logged-in user has notifications (staff too, though today nothing tells them anything)
and sees only their own: another's notification does not exist for them (404, for admins too:
these are personal messages, not case files). Routes that call the Application are plain `def`.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from portal_events.projections import ReadModel
from portal_web import CurrentPrincipal, ErrorTable, HttpError, PagingParams, error_responses
from portal_web.service import ServiceRuntime, application_of, read_model_of

from notifications_service.application import NotificationsApplication
from notifications_service.domainmodel import NotificationNotFound
from notifications_service.schemas import (
    NOTIFICATION_ID_EXAMPLE,
    NotificationPublic,
    NotificationSummary,
    NotificationSummaryPage,
    PreferencesPublic,
    PreferencesUpdate,
    UnreadCount,
)
from notifications_service.views import NotificationView

router = APIRouter(prefix="/notifications", tags=["notifications"])

NotificationsApp = Annotated[NotificationsApplication, Depends(application_of)]
Notifications = Annotated[ReadModel[NotificationView], read_model_of(NotificationView)]
NotificationId = Annotated[
    UUID,
    Path(description="The notification's id (from the list)", examples=[NOTIFICATION_ID_EXAMPLE]),
]
UnreadOnly = Annotated[bool, Query(description="Only the unread ones")]

ERRORS: ErrorTable = {
    NotificationNotFound: HttpError(
        404, "not_found", "Η ειδοποίηση δεν βρέθηκε. (Notification not found.)"
    ),
}


@router.get(
    "",
    response_model=NotificationSummaryPage,
    summary="My notifications (SPEC X-2)",
    description="SPEC X-2. The caller's notifications, newest first, a page at a time, with "
    "how many are unread in all (`unread`): replies and status changes of their requests and "
    "certificate applications, protocol numbers, issued or rejected certificates, payments, "
    "a business's payment warrants and tax declarations, and notices about their account.",
    responses=error_responses(401, 422),
)
def list_notifications(
    principal: CurrentPrincipal,
    paging: PagingParams,
    notifications: Notifications,
    unread_only: UnreadOnly = False,
) -> NotificationSummaryPage:
    view = notifications.view
    rows, total = view.of_recipient(
        principal.user_id, unread_only=unread_only, limit=paging.limit, offset=paging.offset
    )
    return NotificationSummaryPage(
        items=[NotificationSummary.model_validate(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
        unread=view.unread_count(principal.user_id),
    )


@router.post(
    "/read-all",
    response_model=UnreadCount,
    summary="Mark all my notifications read (SPEC X-2)",
    description="SPEC X-2. Marks every unread notification of the caller read; the list "
    "shows them read as soon as this answers.",
    responses=error_responses(401),
)
def read_all(
    principal: CurrentPrincipal,
    app: NotificationsApp,
    notifications: Notifications,
    runtime: ServiceRuntime,
) -> UnreadCount:
    unread = notifications.view.unread_ids(principal.user_id)
    position = app.mark_all_read(unread, principal.user_id)
    runtime.settle(NotificationView, position)
    return UnreadCount(unread=notifications.view.unread_count(principal.user_id))


@router.post(
    "/{notification_id}/read",
    response_model=NotificationPublic,
    summary="Mark one notification read (SPEC X-2)",
    description="SPEC X-2. Only its recipient; for anyone else it does not exist (404). "
    "Marking it read again changes nothing.",
    responses=error_responses(401, 404, 422),
)
def read_one(
    notification_id: NotificationId,
    principal: CurrentPrincipal,
    app: NotificationsApp,
    runtime: ServiceRuntime,
) -> NotificationPublic:
    written = app.mark_read(notification_id, principal.user_id)
    runtime.settle(NotificationView, written.position)
    return NotificationPublic.of(written.result)


@router.get(
    "/preferences",
    response_model=PreferencesPublic,
    summary="My notification preferences (SPEC X-2)",
    description="SPEC X-2. Whether the caller gets notifications by e-mail too (the default) "
    "or only in the portal.",
    responses=error_responses(401),
)
def get_preferences(principal: CurrentPrincipal, app: NotificationsApp) -> PreferencesPublic:
    return PreferencesPublic(email=app.email_preference(principal.user_id))


@router.put(
    "/preferences",
    response_model=PreferencesPublic,
    summary="Set my notification preferences (SPEC X-2)",
    description="SPEC X-2. `email: false` stops e-mails: notifications are then only in the "
    "portal. Security notices (the password changed, the account disabled) are e-mailed "
    "regardless, so that the owner learns at once if someone else changed their account.",
    responses=error_responses(401, 422),
)
def put_preferences(
    body: PreferencesUpdate, principal: CurrentPrincipal, app: NotificationsApp
) -> PreferencesPublic:
    app.set_email_preference(principal.user_id, body.email)
    return PreferencesPublic(email=app.email_preference(principal.user_id))
