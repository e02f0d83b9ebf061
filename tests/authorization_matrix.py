"""Who may call what: the documented answer of every route of every service for each role
(issue 6, "an authorization matrix test"; ASVS 5.0 V8.1.1 "authorization documentation", V8.2.1
function-level and V8.2.2 data-specific access).

Each route acts on resources owned by `citizen` and routed to `clerk`'s department: the
citizen's request (category `roads`, routed to `technical`), its protocol registration, the
citizen's own user id, the citizen's fine and its payment, the citizen's issued family-status
certificate and its verification code, one of the citizen's notifications. The clerk is of the
department the route's service works for (`clerk_department`): `technical` for the request and
the worklist, the municipal police for fines (F-4: they record fines and list them), the revenue
department for payments (the reconciliation list) and the business services, the civil registry
for certificates. The citizen, the business and the other citizen are verified in person (C-1),
so that each may apply for a certificate of their own. The business services (B-1..B-3) are for
businesses only: there the resources are the business's (its tax declaration, an assessed debt
of its ΑΦΜ), so `busn` is their owner and every other role is refused (403) before any id is
looked at, but for the tax declarations, which the revenue department's clerks, auditors and
admins read too (X-3: the back-office worklist's link).
The columns, one per role of `portal_roles.ROLES`:

    anon   anonymous       no token
    citz   citizen         the resource's owner
    busn   business        another user, a business
    ocit   other_citizen   another citizen
    oclk   other_clerk     a clerk of another department
    clrk   clerk           a clerk of the resource's department
    audt   auditor         reads everything, changes nothing
    admn   admin

The statuses are the ones authorization decides (2xx allowed; 401 no token; 403 wrong role;
404 not yours, so that it is not even known to exist) and, where the role may call the route but
the account cannot do it, the documented domain answer (409 `not_applicable`: staff have no
citizen profile). A payment's checkout (303 to the bank's page or to the result) and return page
are public, the unguessable payment id being the capability; the bank's notifications are
authorized by their signature, not by a token (so 204 for a correctly signed one, whoever sends
it, with any token or none). The auditors' routes (X-1) are theirs and the admins': every other
role is refused before any case is looked at. The kit's history route of every service (an
aggregate's state at an instant) is not routed by the public gateway, so it is called at the
service itself; its aggregate is one of that service's own (the citizen's request, fine, payment,
certificate, notification, user; the business's declaration), and a service with none of the
world's (protocol's registrations have ids of their own, the back-office and audit keep no
citizen's aggregates) answers auditors and admins 404. tests/test_authorization.py fails on a
route of any service's OpenAPI missing here, and on a route listed here that no OpenAPI has.
"""

from __future__ import annotations

from portal_roles import (
    ADMIN,
    ANONYMOUS,
    AUDITOR,
    BUSINESS,
    CITIZEN,
    CLERK,
    OTHER_CITIZEN,
    OTHER_CLERK,
    ROLES,
)

Route = tuple[str, str]  # (method, path template as in the OpenAPI)

# Whose clerks are the "clerk" column: DEPARTMENT unless the route's service is named here.
DEPARTMENT = "technical"
CLERK_DEPARTMENTS = {
    "fines": "municipal_police",
    "payments": "revenue",
    "business": "revenue",
    "certificates": "civil_registry",
}


def kit_history_service(route: Route) -> str | None:
    """The service whose kit history route `route` is (X-1), else None. The public gateway does
    not route those: the audit service calls each service itself, so the tests do too."""
    service, *rest = route[1].strip("/").split("/")
    return service if rest[:1] == ["history"] else None


def clerk_department(route: Route) -> str:
    """The department of the clerk who plays `clerk` on the route (its service's)."""
    return CLERK_DEPARTMENTS.get(route[1].split("/")[1], DEPARTMENT)


COLUMNS = {
    "anon": ANONYMOUS,
    "citz": CITIZEN,
    "busn": BUSINESS,
    "ocit": OTHER_CITIZEN,
    "oclk": OTHER_CLERK,
    "clrk": CLERK,
    "audt": AUDITOR,
    "admn": ADMIN,
}

# One row per route: method, path template, then the status each role gets.
TABLE = """
method path                                            anon citz busn ocit oclk clrk audt admn
GET    /identity/health                                200  200  200  200  200  200  200  200
GET    /identity/.well-known/jwks.json                 200  200  200  200  200  200  200  200
POST   /identity/users                                 201  201  201  201  201  201  201  201
POST   /identity/token                                 200  200  200  200  200  200  200  200
POST   /identity/logout                                401  204  204  204  204  204  204  204
GET    /identity/me                                    401  200  200  200  200  200  200  200
PUT    /identity/me/profile                            401  200  200  200  409  409  409  409
GET    /identity/users                                 401  403  403  403  200  200  200  200
POST   /identity/staff                                 401  403  403  403  403  403  403  201
POST   /identity/users/{user_id}/verification          401  403  403  403  201  201  403  403
DELETE /identity/users/{user_id}/verification          401  403  403  403  200  200  403  403
POST   /identity/users/{user_id}/disable               401  403  403  403  403  403  403  200
POST   /identity/users/{user_id}/enable                401  403  403  403  403  403  403  200
PATCH  /identity/users/{user_id}/staff                 401  403  403  403  403  403  403  200
GET    /identity/departments                           200  200  200  200  200  200  200  200
PUT    /identity/me/password                           401  204  204  204  204  204  204  204
GET    /requests/health                                200  200  200  200  200  200  200  200
POST   /requests/anonymous                             202  202  202  202  202  202  202  202
POST   /requests                                       401  201  201  201  403  403  403  403
GET    /requests                                       401  200  200  200  200  200  200  200
GET    /requests/inbox                                 401  403  403  403  200  200  403  200
GET    /requests/{request_id}                          401  200  404  404  404  200  200  200
POST   /requests/{request_id}/reply                    401  403  403  403  404  200  403  200
POST   /requests/{request_id}/status                   401  403  403  403  404  200  403  200
POST   /requests/{request_id}/protocol                 401  403  403  403  404  202  403  202
GET    /protocol/health                                200  200  200  200  200  200  200  200
GET    /protocol/registrations                         401  403  403  403  200  200  200  200
GET    /protocol/registrations/{document_id}           401  403  403  403  404  200  200  200
GET    /fines/health                                   200  200  200  200  200  200  200  200
GET    /fines/types                                    401  200  200  200  200  200  200  200
POST   /fines/check                                    401  200  200  200  200  200  200  200
POST   /fines/lookup                                   401  200  200  200  403  403  403  403
POST   /fines                                          401  403  403  403  403  201  403  201
GET    /fines                                          401  200  200  200  403  200  200  200
GET    /fines/by-reference/{rf}                        401  200  404  404  404  200  200  200
GET    /fines/{fine_id}                                401  200  404  404  404  200  200  200
POST   /fines/{fine_id}/payment                        401  201  404  404  403  403  403  403
GET    /payments/health                                200  200  200  200  200  200  200  200
GET    /payments                                       401  403  403  403  403  200  200  200
GET    /payments/{payment_id}                          401  200  404  404  404  404  404  404
GET    /payments/{payment_id}/checkout                 303  303  303  303  303  303  303  303
GET    /payments/{payment_id}/return                   200  200  200  200  200  200  200  200
POST   /payments/bank/notifications                    204  204  204  204  204  204  204  204
GET    /certificates/health                            200  200  200  200  200  200  200  200
GET    /certificates/civil-registry/types              200  200  200  200  200  200  200  200
GET    /certificates/delivery-methods                  200  200  200  200  200  200  200  200
POST   /certificates/civil-registry                    401  201  201  201  403  403  403  403
POST   /certificates/tap                               401  201  201  201  403  403  403  403
GET    /certificates/civil-registry                    401  200  200  200  200  200  200  200
GET    /certificates/tap                               401  200  200  200  200  200  200  200
GET    /certificates/inbox                             401  403  403  403  200  200  403  200
GET    /certificates/{certificate_id}                  401  200  404  404  404  200  200  200
POST   /certificates/{certificate_id}/status           401  403  403  403  404  200  403  200
POST   /certificates/{certificate_id}/reply            401  403  403  403  404  200  403  200
POST   /certificates/{certificate_id}/issue            401  403  403  403  404  200  403  200
POST   /certificates/{certificate_id}/reject           401  403  403  403  404  200  403  200
GET    /certificates/{certificate_id}/document         401  200  404  404  404  200  200  200
GET    /certificates/verify/{code}                     200  200  200  200  200  200  200  200
GET    /notifications/health                           200  200  200  200  200  200  200  200
GET    /notifications                                  401  200  200  200  200  200  200  200
POST   /notifications/{notification_id}/read           401  200  404  404  404  404  404  404
POST   /notifications/read-all                         401  200  200  200  200  200  200  200
GET    /notifications/preferences                      401  200  200  200  200  200  200  200
PUT    /notifications/preferences                      401  200  200  200  200  200  200  200
GET    /backoffice/health                              200  200  200  200  200  200  200  200
GET    /backoffice/worklist                            401  403  403  403  200  200  200  200
GET    /backoffice/summary                             401  403  403  403  200  200  200  200
GET    /backoffice/deadlines                           401  403  403  403  200  200  200  200
GET    /business/health                                200  200  200  200  200  200  200  200
GET    /business/tax/rules                             200  200  200  200  200  200  200  200
GET    /business/warrants                              401  403  200  403  403  403  403  403
POST   /business/tax-declarations                      401  403  201  403  403  403  403  403
GET    /business/tax-declarations                      401  403  200  403  403  200  200  200
GET    /business/tax-declarations/{declaration_id}     401  403  200  403  403  200  200  200
POST   /business/tax-declarations/{declaration_id}/payment 401 403 201  403  403  403  403  403
GET    /business/debts                                 401  403  200  403  403  403  403  403
GET    /business/debts/{debt_id}                       401  403  200  403  403  403  403  403
POST   /business/debts/{debt_id}/payment               401  403  201  403  403  403  403  403
GET    /audit/health                                   200  200  200  200  200  200  200  200
GET    /audit/cases/{case}                             401  403  403  403  403  403  200  200
GET    /audit/cases/{case}/state                       401  403  403  403  403  403  200  200
GET    /audit/events                                   401  403  403  403  403  403  200  200
GET    /audit/integrity                                401  403  403  403  403  403  200  200
GET    /audit/trail                                    401  403  403  403  403  403  200  200
GET    /identity/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  200  200
GET    /requests/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  200  200
GET    /protocol/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  404  404
GET    /payments/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  200  200
GET    /fines/history/aggregates/{aggregate_id}/state   401  403  403  403  403  403  200  200
GET    /certificates/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  200  200
GET    /notifications/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  200  200
GET    /backoffice/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  404  404
GET    /business/history/aggregates/{aggregate_id}/state 401  403  403  403  403  403  200  200
GET    /audit/history/aggregates/{aggregate_id}/state   401  403  403  403  403  403  404  404
"""


def parse(table: str) -> dict[Route, dict[str, int]]:
    header, *rows = table.strip().splitlines()
    roles = [COLUMNS[column] for column in header.split()[2:]]
    assert tuple(roles) == ROLES, f"the columns are not the roles of ROLES: {roles}"
    matrix: dict[Route, dict[str, int]] = {}
    for row in rows:
        method, path, *statuses = row.split()
        assert (method, path) not in matrix, f"{method} {path}: two rows"
        matrix[(method, path)] = dict(zip(ROLES, map(int, statuses), strict=True))
    return matrix


MATRIX = parse(TABLE)
