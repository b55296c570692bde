"""Which roles see which areas of the web app, shared by the app and its route modules."""

from campaigns.models import Role

CAMPAIGN_ROLES = (Role.ADMIN, Role.MARKETING, Role.ANALYST)
# The call explorer and CDR exports (phones masked for analysts: campaigns/privacy.py).
CALL_ROLES = (Role.ADMIN, Role.MARKETING, Role.ANALYST, Role.SUPERVISOR)
WALLBOARD_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.ANALYST)
# The campaign dashboard: counts and rates only, no phone number, so supervisors (who
# watch the floor) read it as well as the campaign roles.
DASHBOARD_ROLES = (*CAMPAIGN_ROLES, Role.SUPERVISOR)
# Who makes and runs campaigns, imports lists and keeps the do-not-call lists.
MARKETING = (Role.ADMIN, Role.MARKETING)
# Who reads campaigns, their imports and dry-runs (analysts too, numbers masked).
READERS = CAMPAIGN_ROLES
