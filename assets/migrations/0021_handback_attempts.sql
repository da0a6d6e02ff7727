-- Wrong PINs on the hand-back screen are counted per tablet (its
-- session), not against the account: a customer holding the tablet
-- cannot lock the colleague out of the counter. After each five wrong
-- PINs the screen pauses, 30 seconds at first, doubling up to 15 minutes.
ALTER TABLE sessions ADD COLUMN handback_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN handback_paused_until TEXT NOT NULL DEFAULT '';
