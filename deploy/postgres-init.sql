-- Run once by the postgres image on an empty volume (docker-compose.yml, profile "scale"): the MLflow
-- registry's database beside the vote log's (glimpse, made from POSTGRES_DB).
CREATE DATABASE mlflow OWNER glimpse;
