"""The admin console's services: admin accounts with TOTP and roles, the review queue,
searches and the audit views' queries. The console's pages are in hub/pages/admin."""
