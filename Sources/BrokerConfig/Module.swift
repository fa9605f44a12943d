import CYAML
public enum BrokerConfigModule {}
