# The "Organization users" page, in English: every string the page shows.
# A second locale is a file like this one at <--page-locales>/<tag>/page.ftl
# (e.g. de/page.ftl); a message it lacks is shown in English.

page-title = Organization users
skip-to-content = Skip to the users
signed-in-as = Signed in as { $name }
sign-out = Sign out
switch-organization = Organization
switch = Switch
choose-organization-title = Choose an organization
choose-organization-explain = You belong to several organizations. Choose the one to act for now; you can switch at any time.
switch-refused = You cannot act for that organization now. Choose another, or ask its administrator.
nav-users = Users
nav-audit = Audit trail
nav-add = Add a user
nav-bulk-add = Add many users

## Filters, search, sorting, paging
filters = Show
filter-all = All
filter-invited = Invited
filter-active = Active
filter-revoked = Revoked
filter-removed = Removed
search-label = Search by name, email or company
search-button = Search
search-clear = Clear the search
sort-by = Sort by { $column }
column-select = Select
column-name = Name
column-email = Email
column-company = Company
column-status = Status
column-roles = Roles
column-limit = Spending limit
column-added = Added
column-actions = Actions
no-limit = No limit
no-users = No users match.
next-page = Next page
first-page = First page
admin-badge = Administrator
invited-at = Invitation sent { $when }
select-all = Select all users on this page
select-user = Select { $name }

## Statuses
status-invited = Invited
status-active = Active
status-revoked = Revoked
status-removed = Removed

## Row and bulk actions
action-edit = Edit
action-edit-user = Edit { $name }
action-revoke = Revoke
action-reinstate = Reinstate
action-remove = Remove
action-reinvite = Re-invite
action-user = { $action } { $name }
bulk-legend = With the selected users
bulk-action = Action
bulk-apply = Apply to selected
bulk-none-selected = Select at least one user first.
reinvite-limit = An invitation can be sent again 5 minutes after the last one.

## Notices after a change
notice-added = The user was added and invited.
notice-edited = The changes were saved.
notice-revoked = The user's access was revoked.
notice-reinstated = The user was reinstated.
notice-removed = The user was removed.
notice-reinvited = The invitation was sent again.

## Forms
add-title = Add a user
edit-title = Edit { $name }
field-email = Email
field-email-locked = The email can change only while the user is invited and has not signed in. To change it now, remove the user and add them again.
field-name = Name
field-roles = Roles
field-roles-hint = Separated by commas, e.g. buyer, approver
field-limit = Spending limit
field-limit-hint = The largest order total, in the store's smallest currency unit (e.g. cents). Leave empty for no limit.
field-admin = Administrator of the organization
save = Save
add-button = Add and invite
cancel = Cancel
back-to-list = Back to the users

## Bulk add
bulk-add-title = Add many users
bulk-add-label = Email addresses, one per line
bulk-add-hint = Each line: an address, or "Name <address>", or "address, Name". Roles and the spending limit below apply to everyone.
bulk-add-button = Add and invite all
bulk-add-empty = Paste at least one address.

## Results of a bulk change
results-title = Results
results-summary = { $done } of { $total } done.
result-ok = Done
result-failed = Not done: { $reason }
result-user = User
result-outcome = Outcome

## Removal
remove-title = Remove { $name }?
remove-explain = { $name } will lose access. Their record and history are kept, and they can be added again later.
remove-confirm = Remove
bulk-remove-title = Remove { $count } users?
bulk-remove-explain = They will lose access. Their records and history are kept.

## Audit trail
audit-title = Audit trail
audit-when = When
audit-actor = Who
audit-action = What
audit-target = Whom
audit-policies = Permitted by
audit-empty = Nothing recorded yet.
audit-next = Older entries

## Errors: each says what to do
error-denied = You are not permitted to do this. Deciding policies: { $policies }.
error-denied-none = You are not permitted to do this: no policy permits it.
error-stale = Someone else changed this user after you opened the page. The list now shows their change; try again if yours is still needed.
error-stale-form = Someone else changed this user after you opened this form, so nothing was saved. Your entries are kept below: save again to replace their change, or cancel to see it.
error-conflict = Not saved: { $reason }
error-invalid = Not saved: { $reason }
error-not-found = This user no longer exists. Go back to the list to see the current users.
error-rate-limited = An invitation was sent less than 5 minutes ago. You can send it again in { $seconds } seconds.
error-unavailable = The service cannot reach its records right now. Nothing was changed; try again in a moment.
error-internal = Something went wrong on our side. Nothing was changed; try again, and tell support if it persists.
error-csrf = This form has expired. Reload the page and try again.
error-no-user = You cannot view this user.

## Access
signed-out-title = Sign in
signed-out-explain = Sign in to manage your organization's users.
sign-in-with = Sign in with { $provider }
sign-in-none = Sign-in is not configured on this site.
signed-out-done = You are signed out
sign-out-provider-explain = Your session here has ended. You are now taken to your sign-in provider to end your session there too.
sign-out-provider = Continue to your sign-in provider
forbidden-title = No access
forbidden-explain = You do not administer the users of an organization. Ask one of your organization's administrators.

## Amounts: the spending limit in the store's currency. `amount` places the
## number and the currency's symbol (`currency-<CODE>`); `amount-code` the
## number and the code of a currency without a symbol here.
number-group = ,
number-decimal = .
amount = { $currency }{ $number }
amount-code = { $currency } { $number }
currency-USD = $
currency-EUR = €
currency-GBP = £

## The prospect's form (`/onboarding`): a company asks to trade as a
## business partner.
onboarding-app = Business partners
onboarding-title = Apply
onboarding-heading = Apply to buy as a business
onboarding-explain = Tell us who you are. Our team reviews every request and answers by email.
field-organization-name = Company name
field-your-name = Your name
field-your-email = Your work email
onboarding-submit = Send the request
onboarding-required = Fill this in (up to 200 characters).
onboarding-email-invalid = Enter an email address such as name@company.com.
onboarding-received-title = Request received
onboarding-received-explain = Thank you. We will answer by email once our team has reviewed the request.
onboarding-rate-limited = Too many requests from this address. Please try again in a few minutes.

## The back office (`/back-office`): the merchant's staff.
back-office-title = Back office
back-office-sign-in = Sign in with the merchant's staff account.
back-office-customers = The back office is for the merchant's staff. Sign out, then sign in with a staff account.
back-office-forbidden = The policies do not let you see this part of the back office.
back-office-queue = Onboarding requests
back-office-filter = Requests by status
back-office-queue-empty = No requests in this status.
back-office-requester = Requested by
back-office-submitted = Submitted
back-office-approve = Approve
back-office-approve-label = Approve { $organization }
back-office-reject = Reject
back-office-reject-label = Reject { $organization }
back-office-reason = Reason (sent to the requester)
back-office-reason-required = Give the reason for rejecting (up to 500 characters); the requester receives it.
back-office-approved = Approved: the organization exists and its administrator has been invited.
back-office-rejected = Rejected: the requester has been told why.
onboarding-status-pending = Pending
onboarding-status-approved = Approved
onboarding-status-rejected = Rejected
staff-elsewhere-title = Staff work in the back office
staff-elsewhere-explain = You are signed in with a staff account. Organization users are managed from the back office.
back-office-organizations = Organizations
back-office-search-organizations = Search organizations by name
back-office-organizations-empty = No organization assigned to you matches.
back-office-block-reason = Reason (kept in the audit trail)
back-office-block-label = Block { $organization }
back-office-unblock-label = Unblock { $organization }
back-office-blocked = Blocked: its members are signed out and may not order.
back-office-unblocked = Unblocked: its members may sign in and order again.
organization-status-pending = Pending
organization-status-approved = Approved
organization-status-rejected = Rejected
organization-status-blocked = Blocked
back-office-block-reason-required = Give the reason (up to 500 characters); the audit trail keeps it.
back-office-organization-name = New organization's name
back-office-create = Create organization
back-office-name-required = Give the organization's name (up to 200 characters).
back-office-created = Created: you are assigned to it. Add its administrator below.
back-office-users-of = Its users
back-office-assigned-staff = Assigned staff
back-office-no-staff = No staff member is assigned.
back-office-assign-email = Assign a colleague (their staff email)
back-office-assign = Assign
back-office-assigned = Assigned: they see this organization from their next request.
back-office-unassign = Withdraw
back-office-unassign-label = Withdraw { $name }'s assignment
back-office-unassigned = Withdrawn: they no longer see this organization.
staff-status-invited = Invited (not signed in yet)
staff-status-active = Active
staff-status-removed = Removed
back-office-users = Users
back-office-search-users = Search users by name, email or organization
back-office-all-organizations = All my organizations
back-office-organization-filter = Organization
back-office-users-empty = No user of your organizations matches.
back-office-remove-title = Remove { $name } from { $organization }?
back-office-remove-explain = Their membership ends; the record, links and history stay. They can be added again later.
