-- Reverts 0001-em-seals.
DROP TABLE IF EXISTS mail_account_seals;
