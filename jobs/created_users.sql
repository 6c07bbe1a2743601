-- The default pipeline's stream job (`millrace up` runs it; it plays the
-- classic pipeline's Spark Structured Streaming job).
--
-- Reads the users that `millrace cdc` (or the classic Python producer) writes
-- to the topic users_created and upserts each one into
-- spark_streams.created_users, keyed by id; keeps the live count of users per
-- nationality and gender per minute of the records' Kafka timestamps in
-- spark_streams.users_per_nat_minute. Records that do not decode (or lack a
-- required field) go to users_created.dlq with headers naming the error.
--
-- Edit it: add a column, filter by nationality, compute an age from dob...
-- `millrace jobs validate jobs/created_users.sql` checks it; a running
-- `millrace up` reloads it when it changes.

-- Keep the aggregate table live: upsert each minute's counts every second,
-- before the minute is over.
SET 'table.exec.emit.early-fire.enabled' = 'true';
SET 'table.exec.emit.early-fire.delay' = '1 s';
-- A partition that stops receiving users holds the minute windows open only
-- this long (then the others' watermark closes them).
SET 'table.exec.source.idle-timeout' = '30 s';

CREATE TABLE users_created (
  id STRING NOT NULL,
  first_name STRING NOT NULL,
  last_name STRING NOT NULL,
  gender STRING NOT NULL,
  address STRING NOT NULL,
  post_code STRING NOT NULL,
  email STRING NOT NULL,
  username STRING NOT NULL,
  dob STRING,
  registered_date STRING NOT NULL,
  phone STRING NOT NULL,
  picture STRING NOT NULL,
  nat STRING,
  -- the record's Kafka timestamp: the time the aggregate windows on
  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  nationality AS COALESCE(nat, 'unknown'),
  WATERMARK FOR kafka_ts AS kafka_ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'users_created',
  'format' = 'json',
  'scan.startup.mode' = 'earliest-offset'
);

CREATE TABLE created_users (
  id STRING,
  first_name STRING,
  last_name STRING,
  gender STRING,
  address STRING,
  post_code STRING,
  email STRING,
  username STRING,
  registered_date STRING,
  phone STRING,
  picture STRING,
  dob STRING,
  nat STRING,
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'cassandra',
  'keyspace' = 'spark_streams',
  'table' = 'created_users',
  -- the classic job's table keys users by a CQL uuid
  'cql.type.id' = 'uuid'
);

CREATE TABLE users_per_nat_minute (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  nat STRING,
  gender STRING,
  users BIGINT,
  PRIMARY KEY (window_start, nat, gender) NOT ENFORCED
) WITH (
  'connector' = 'cassandra',
  'keyspace' = 'spark_streams',
  'table' = 'users_per_nat_minute'
);

EXECUTE STATEMENT SET
BEGIN
  INSERT INTO created_users
  SELECT LOWER(id), first_name, last_name, gender, address, post_code, email, username, registered_date,
         phone, picture, dob, nat
  FROM users_created;

  INSERT INTO users_per_nat_minute
  SELECT window_start, window_end, nationality, gender, COUNT(*)
  FROM TABLE(TUMBLE(TABLE users_created, DESCRIPTOR(kafka_ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end, nationality, gender;
END;
